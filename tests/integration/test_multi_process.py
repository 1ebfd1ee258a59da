"""Two Herald processes sharing one Redis, as behind a load balancer."""

import asyncio
import uuid

import httpx
import pytest
from httpx_sse import ServerSentEvent

from tests.integration.helpers import PROCESS_TOKENS, announce, data, eventually, process_bearer
from tests.support.processes import HeraldProcess
from tests.support.reports import REPORT_SEQUENCE, report_sequence
from tests.support.streams import StreamReader

pytestmark = pytest.mark.needs("redis-server")


async def test_a_report_raised_on_one_process_reaches_a_stream_on_the_other(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    owner = uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        StreamReader(on_b, "/api/v1/events", headers=process_bearer(owner)) as stream,
    ):
        response = await on_a.post("/api/v1/reports", json={"title": "cross-process"}, headers=process_bearer(owner))
        assert response.status_code == 202
        await stream.wait_for_count(len(REPORT_SEQUENCE))
        assert report_sequence(stream.events) == REPORT_SEQUENCE
        assert {data(e)["report_id"] for e in stream.events} == {response.json()["report_id"]}


async def test_switching_process_mid_stream_loses_and_repeats_nothing(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user, admin = uuid.uuid4(), uuid.uuid4()
    published = 0
    reports = 0
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):

        async def keep_publishing(until: asyncio.Event) -> None:
            nonlocal published, reports
            while not until.is_set():
                published += 1
                await announce(on_a, process_bearer(admin, "admin"), str(published))
                if published % 10 == 0:
                    reports += 1
                    await on_a.post("/api/v1/reports", json={"title": str(reports)}, headers=process_bearer(user))

        def completed_reports(events: list[ServerSentEvent]) -> int:
            return sum(e.event == "report.completed" for e in events)

        first = StreamReader(on_a, "/api/v1/events", headers=process_bearer(user))
        await first.__aenter__()
        enough = asyncio.Event()
        publishing = asyncio.create_task(keep_publishing(enough))
        await first.wait_for_count(30)
        await first.close()  # the client drops its connection to A …
        last_id = first.events[-1].id
        dropped_at = published
        await eventually(lambda: published >= dropped_at + 20)  # … while events keep being published …
        headers = {**process_bearer(user), "Last-Event-ID": last_id}
        async with StreamReader(on_b, "/api/v1/events", headers=headers) as second:  # … and resumes on B.
            await second.wait_for_count(50)
            enough.set()
            await publishing
            # Every report's background steps finish …
            await second.wait_until(lambda events: completed_reports(first.events + events) == reports, timeout=20)
            published += 1
            # … then a fence: once it is in, everything before it is.
            await announce(on_a, process_bearer(admin, "admin"), str(published))
            await second.wait_until(
                lambda events: any(data(e).get("message") == str(published) for e in events), timeout=20
            )
            events = first.events + second.events

    messages = [int(str(data(e)["message"])) for e in events if e.event == "system.announcement"]
    assert messages == list(range(1, published + 1)), "announcements lost, repeated or out of order"
    report_kinds = [e.event for e in events if e.event.startswith("report.")]
    assert report_kinds.count("report.requested") == reports
    assert report_kinds.count("report.completed") == reports
    assert len(report_kinds) == reports * len(REPORT_SEQUENCE)
    assert len({e.id for e in events}) == len(events)
    assert not [e for e in events if e.event == "stream.reset"]
    print(
        f"\nswitch: {published} announcements + {reports * len(REPORT_SEQUENCE)} report events; "
        f"{len(first.events)} read on A, {len(second.events)} on B after resuming"
    )


async def test_revoking_a_session_ends_its_streams_on_every_process(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user = uuid.uuid4()
    token = PROCESS_TOKENS.issue(user)
    session_id = PROCESS_TOKENS.verify(token).session_id
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        StreamReader(on_a, "/api/v1/events", headers=headers) as stream_a,
        StreamReader(on_b, "/api/v1/events", headers=headers) as stream_b,
    ):
        assert (await on_a.delete(f"/api/v1/sessions/{session_id}", headers=headers)).status_code == 204
        for stream in (stream_a, stream_b):
            async with asyncio.timeout(5):
                await stream.ended.wait()
            assert [e.event for e in stream.events] == ["stream.end"]
            assert data(stream.events[0])["reason"] == "session_revoked"
        for client in (on_a, on_b):
            assert (await client.get("/api/v1/events", headers=headers)).status_code == 401


async def test_an_expiring_credential_ends_its_streams_on_every_process(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    # Long enough to open a stream on each process on a busy machine (``exp`` is cut to whole seconds).
    headers = {"Authorization": f"Bearer {PROCESS_TOKENS.issue(uuid.uuid4(), lifetime_seconds=5)}"}
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
        StreamReader(on_a, "/api/v1/events", headers=headers) as stream_a,
        StreamReader(on_b, "/api/v1/events", headers=headers) as stream_b,
    ):
        for stream in (stream_a, stream_b):
            async with asyncio.timeout(15):
                await stream.ended.wait()
            assert data(stream.events[-1])["reason"] == "credential_expired"
        for client in (on_a, on_b):
            assert (await client.get("/api/v1/events", headers=headers)).status_code == 401


async def test_a_ticket_from_one_process_opens_a_stream_on_the_other_and_is_never_logged(
    two_processes: tuple[HeraldProcess, HeraldProcess],
) -> None:
    a, b = two_processes
    user = uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=a.base_url, timeout=10) as on_a,
        httpx.AsyncClient(base_url=b.base_url, timeout=10) as on_b,
    ):
        issued = await on_a.post("/api/v1/events/tickets", headers=process_bearer(user))
        ticket = issued.json()["ticket"]
        async with StreamReader(on_b, f"/api/v1/events?ticket={ticket}") as stream:
            assert stream.response is not None
            assert stream.response.status_code == 200
        assert (await on_a.get(f"/api/v1/events?ticket={ticket}")).status_code == 401  # used up
    # Both uses were logged (the stream on B, the refusal on A), each without the ticket.
    await eventually(lambda: all("ticket=[redacted]" in process.log() for process in (a, b)))
    for process in (a, b):
        assert ticket not in process.log()
