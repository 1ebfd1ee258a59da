"""A client that stops reading is cut off; nobody else notices; it resumes without loss."""

import asyncio
import contextlib
import json
import socket
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from domain.sse import SSECategory, SSEEvent
from herald_contracts import parse_sse
from infrastructure.container import Container, resolve
from tests.support.server import serve
from tests.support.streams import StreamReader

FLOOD = 20_000
PAD = "x" * 1000


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def dechunk(raw: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 response, as far as it arrived."""
    _, _, rest = raw.partition(b"\r\n\r\n")
    body = bytearray()
    while rest:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep or not size_line:
            break
        size = int(size_line, 16)
        if size == 0:
            break
        body += rest[:size]
        rest = rest[size + 2 :]
    return bytes(body)


def open_stalled_stream(port: int, token: str) -> socket.socket:
    """A raw client that sends its request and then never reads (tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    request = f"GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n\r\n"
    sock.sendall(request.encode())
    return sock


def read_all(sock: socket.socket) -> bytes:
    sock.settimeout(5)
    chunks = []
    with contextlib.suppress(TimeoutError, ConnectionResetError):
        while chunk := sock.recv(1 << 16):
            chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


async def test_a_stalled_client_is_ended_while_200_others_stream(make_container: Callable[..., Container]) -> None:
    container = make_container(
        sse_queue_size=100, sse_send_timeout_seconds=3.0, sse_heartbeat_seconds=0.5, sse_retention=FLOOD
    )
    stalled_user = uuid.uuid4()
    tokens = container.token_service()
    limits = httpx.Limits(max_connections=300, max_keepalive_connections=300)
    async with (
        serve(container) as service,
        httpx.AsyncClient(base_url=service.base_url, timeout=30, limits=limits) as client,
    ):
        hub = container.stream_hub()
        publisher = await resolve(container.publisher)
        port = int(service.base_url.rsplit(":", 1)[1])
        stalled = open_stalled_stream(port, tokens.issue(stalled_user))
        others = [
            StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {tokens.issue(uuid.uuid4())}"})
            for _ in range(200)
        ]
        await asyncio.gather(*(reader.__aenter__() for reader in others))
        while not hub.streams_of(stalled_user):
            await asyncio.sleep(0.01)
        rss_before = rss_kib()
        try:
            for n in range(FLOOD):
                await publisher.publish(
                    SSEEvent(
                        event_type="test.flood",
                        category=SSECategory.REPORTS,
                        data={"n": n, "pad": PAD},
                        user_id=stalled_user,
                    )
                )
                if n % 20 == 0:
                    await asyncio.sleep(0)  # a healthy client would keep up with this pace
                if n % 1000 == 0:
                    await publisher.broadcast(
                        SSEEvent(event_type="test.tick", category=SSECategory.SYSTEM, data={"n": n}, user_id=None)
                    )
                    # Healthy clients keep up: each has the tick before the flood goes on.
                    tick = n // 1000
                    await asyncio.gather(*(r.wait_until(lambda events, t=tick: len(events) > t) for r in others))
            # The stalled stream was ended (its backlog passed the bound) and released …
            for _ in range(200):
                if not hub.streams_of(stalled_user):
                    break
                await asyncio.sleep(0.05)
            else:
                [inbox] = hub.streams_of(stalled_user)
                raise AssertionError(f"stalled stream still open: {len(inbox._frames)} queued, {inbox.end_reason}")
            rss_after = rss_kib()
            # … while every other stream got every broadcast.
            for reader in others:
                await reader.wait_until(lambda events: len(events) >= FLOOD // 1000, timeout=30)
                assert [json.loads(e.data)["n"] for e in reader.events] == list(range(0, FLOOD, 1000))
        finally:
            await asyncio.gather(*(reader.close() for reader in others))

        received = [
            e for e in parse_sse(dechunk(await asyncio.to_thread(read_all, stalled))) if e.event == "test.flood"
        ]
        assert len(received) < FLOOD  # it really fell behind
        last_id = received[-1].id
        seen = [json.loads(e.data)["n"] for e in received]
        assert seen == list(range(len(seen)))
        headers = {"Authorization": f"Bearer {tokens.issue(stalled_user)}", "Last-Event-ID": last_id}
        async with StreamReader(client, "/api/v1/events", headers=headers) as resumed:
            try:
                await resumed.wait_until(  # cheap check of the newest event only: the client must keep up
                    lambda events: bool(events) and events[-1].data.startswith(f'{{"n":{FLOOD - 1},'), timeout=60
                )
            except TimeoutError:
                tail = [(e.event, e.data[:20]) for e in resumed.events[-3:]]
                raise AssertionError(f"resumed after {len(seen)}: {len(resumed.events)} events, last {tail}") from None
            numbers = [json.loads(e.data)["n"] for e in resumed.events if e.event == "test.flood"]
            assert numbers == list(range(len(seen), FLOOD))  # nothing lost, nothing twice
    flood_kib = FLOOD * (len(PAD) + 100) // 1024
    print(
        f"\nstalled client: cut off after {len(seen)} of {FLOOD} events; RSS +{rss_after - rss_before} KiB "
        f"while {flood_kib} KiB were published to it (retention holds {flood_kib} KiB of that)"
    )
