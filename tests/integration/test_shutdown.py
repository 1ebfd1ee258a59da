"""SIGTERM with a thousand open streams: a clean end for every client, a prompt exit, nothing missed."""

import asyncio
import re
import uuid

import httpx
import pytest

from tests.integration.helpers import announce, data, process_bearer
from tests.support.processes import HeraldProcess
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")

STREAMS = 1000


async def test_sigterm_ends_every_stream_cleanly_and_clients_resume_elsewhere(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    streams = STREAMS
    users = [uuid.uuid4() for _ in range(streams // 4)]
    admin = process_bearer(uuid.uuid4(), "admin")
    limits = httpx.Limits(max_connections=streams + 50, max_keepalive_connections=streams + 50)
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=60, limits=limits) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=60, limits=limits) as on_b,
    ):
        readers = [StreamReader(on_a, "/api/v1/events", headers=process_bearer(u)) for u in users for _ in range(4)]
        for batch in range(0, len(readers), 100):
            await asyncio.gather(*(r.__aenter__() for r in readers[batch : batch + 100]))
        published = 0

        async def publish(count: int) -> None:
            nonlocal published
            for _ in range(count):
                published += 1
                await announce(on_b, admin, str(published))

        await publish(5)
        for reader in readers:
            await reader.wait_for_count(5, timeout=30)

        publishing = asyncio.create_task(publish(30))
        code = await asyncio.to_thread(a.stop)  # SIGTERM, wait for the exit
        await publishing
        # uvicorn re-raises SIGTERM after its graceful shutdown, so the status is -15, not a crash.
        assert code in (0, -15)
        assert "Application shutdown complete" in a.log()
        # Every stream ended by itself: none was left for the cut at the grace.
        summary = re.search(r"shut down in ([\d.]+) s: (\d+) stream\(s\) ended, (\d+) connection\(s\) cut off", a.log())
        assert summary is not None, a.log()
        assert (int(summary[2]), int(summary[3])) == (len(readers), 0)

        for reader in readers:
            async with asyncio.timeout(5):
                await reader.ended.wait()
            assert reader.error is None, "the stream did not end cleanly"
            assert reader.events[-1].event == "stream.end"
            assert data(reader.events[-1])["reason"] == "shutdown"

        async def resume(user: uuid.UUID, last_id: str | None) -> StreamReader:
            """Reconnect on the other process as a client does: a 503 (Redis slower than the request's budget
            while a hundred streams resume at once on a busy machine) is tried again after its Retry-After."""
            headers = {**process_bearer(user), "Last-Event-ID": last_id or ""}
            while True:
                reader = await StreamReader(on_b, "/api/v1/events", headers=headers).__aenter__()
                if reader.response is None or reader.response.status_code != 503:
                    return reader
                await reader.close()
                await asyncio.sleep(float(reader.response.headers.get("retry-after", "1")))

        owners = [u for u in users for _ in range(4)]
        resumed: list[StreamReader] = []
        for batch in range(0, len(readers), 100):
            pairs = zip(readers[batch : batch + 100], owners[batch : batch + 100], strict=True)
            resumed += await asyncio.gather(*(resume(user, reader.events[-1].id) for reader, user in pairs))
        await publish(1)  # a fence after the switch
        try:
            for before, after in zip(readers, resumed, strict=True):
                await after.wait_until(
                    lambda events: any(data(e).get("message") == str(published) for e in events), timeout=60
                )
                messages = [
                    int(str(data(e)["message"]))
                    for e in before.events + after.events
                    if e.event == "system.announcement"
                ]
                assert messages == list(range(1, published + 1))
        finally:
            await asyncio.gather(*(r.close() for r in resumed))
    print(f"\nSIGTERM with {len(readers)} open streams: {summary[0]}; {published} events, none lost")
