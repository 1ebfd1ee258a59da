"""The connection's own limits: header size (431), time to send a request, idle keep-alive; streams unharmed."""

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from infrastructure.container import Container
from tests.support.server import RunningHerald, serve
from tests.support.streams import StreamReader

REQUEST_SECONDS = 1.0
HEADER_LIMIT = 16_384


@pytest.fixture
async def limited(make_container: Callable[..., Container]) -> AsyncIterator[RunningHerald]:
    container = make_container(
        http_request_seconds=REQUEST_SECONDS, http_keepalive_seconds=1, http_max_header_bytes=HEADER_LIMIT
    )
    async with serve(container) as running:
        yield running


def port_of(service: RunningHerald) -> int:
    return int(service.base_url.rsplit(":", 1)[1])


def rss_bytes() -> int:
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * 4096


async def connect(service: RunningHerald) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port_of(service))


async def send_until_refused(writer: asyncio.StreamWriter, head: bytes, total: int) -> int:
    """Send ``head`` then filler bytes of an unfinished header, up to ``total``; return how many were taken."""
    writer.write(head)
    sent = len(head)
    chunk = b"a" * 65_536
    with contextlib.suppress(ConnectionError):
        while sent < total:
            writer.write(chunk)
            await asyncio.wait_for(writer.drain(), timeout=5)
            sent += len(chunk)
    return sent


async def test_an_oversized_header_gets_431_at_once_while_a_stream_goes_on(limited: RunningHerald) -> None:
    tokens = limited.container.token_service()
    admin = {"Authorization": f"Bearer {tokens.issue(uuid.uuid4(), ['admin'])}"}
    async with (
        httpx.AsyncClient(base_url=limited.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {tokens.issue(uuid.uuid4())}"}) as s,
    ):
        reader, writer = await connect(limited)
        head = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: "
        sending = asyncio.create_task(send_until_refused(writer, head, 30_000_000))
        status_line = await asyncio.wait_for(reader.readline(), timeout=5)
        # Meanwhile the stream still takes events: nothing waited for the big header.
        assert (
            await client.post("/api/v1/announcements", json={"message": "during"}, headers=admin)
        ).status_code == 202
        await s.wait_until(lambda events: any(e.event == "system.announcement" for e in events), timeout=5)
        sent = await sending
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 431"), status_line
    print(f"\n431 before the client had finished; it pushed {sent / 1e6:.1f} MB of an unfinished 30 MB header")


async def test_an_oversized_header_sent_whole_is_refused_before_it_is_parsed(limited: RunningHerald) -> None:
    reader, writer = await connect(limited)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 431")
    assert b"application/problem+json" in response
    assert b'"status":431' in response


async def test_headers_under_the_limit_and_a_body_in_the_same_write_pass(limited: RunningHerald) -> None:
    body = b'{"user_id": "%s", "roles": []}' % str(uuid.uuid4()).encode()
    request = (
        b"POST /api/v1/dev/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + b"X-Filler: "
        + b"f" * (HEADER_LIMIT - 200)
        + b"\r\n"
        + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        + body
    )
    reader, writer = await connect(limited)
    writer.write(request)
    response = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:200]


async def test_an_unfinished_header_block_does_not_grow_memory(limited: RunningHerald) -> None:
    before = rss_bytes()
    reader, writer = await connect(limited)
    sending = asyncio.create_task(send_until_refused(writer, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ", 30_000_000))
    status_line = await asyncio.wait_for(reader.readline(), timeout=5)
    sent = await sending
    writer.close()
    grown = rss_bytes() - before
    assert status_line.startswith(b"HTTP/1.1 431")
    # Without the limit the process held the whole block (30 MB and more).
    assert grown < 8_000_000, f"the process grew by {grown / 1e6:.1f} MB"
    print(f"\nunfinished 30 MB header: {sent / 1e6:.1f} MB pushed, the process grew by {grown / 1e6:.1f} MB")


async def test_half_sent_requests_are_all_closed_within_the_limit(limited: RunningHerald) -> None:
    count = 500
    sockets = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port_of(limited)))
        kind = i % 3
        if kind == 0:
            sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")  # headers never finished
        elif kind == 1:
            sock.sendall(
                b"POST /api/v1/dev/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n{"  # body never finished
            )
        # kind 2: connected, nothing sent
        sock.setblocking(False)
        sockets.append(sock)
    opened = time.monotonic()
    open_ = set(range(count))
    try:
        while open_ and time.monotonic() - opened < REQUEST_SECONDS + 10:
            for index in list(open_):
                try:
                    data = sockets[index].recv(4096)
                except BlockingIOError:
                    continue
                except ConnectionError:
                    data = b""
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    open_.discard(index)
            await asyncio.sleep(0.05)
        closed_after = time.monotonic() - opened
    finally:
        for sock in sockets:
            sock.close()
    assert not open_, f"{len(open_)} of {count} half-sent requests still open after {closed_after:.1f} s"
    print(f"\n{count} half-sent requests all closed {closed_after:.1f} s after they were opened")


async def test_an_idle_kept_alive_connection_is_closed(limited: RunningHerald) -> None:
    reader, writer = await connect(limited)
    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(reader.readuntil(b"}}"), timeout=5)  # the end of the health document
    # The server closes the connection after the keep-alive limit; read() then returns the end.
    assert await asyncio.wait_for(reader.read(), timeout=10) == b""
    writer.close()


async def test_a_stream_outlives_the_request_time_limit(limited: RunningHerald) -> None:
    tokens = limited.container.token_service()
    user = uuid.uuid4()
    async with (
        httpx.AsyncClient(base_url=limited.base_url, timeout=10) as client,
        StreamReader(client, "/api/v1/events", headers={"Authorization": f"Bearer {tokens.issue(user)}"}) as stream,
    ):
        # A marker: a request opened after the stream and never finished is closed by its deadline.
        # Had the stream's own deadline run on (it covers the request, not the response), it would be gone by now.
        reader, writer = await connect(limited)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        assert (await asyncio.wait_for(reader.read(), timeout=REQUEST_SECONDS + 10)).startswith(b"HTTP/1.1 408")
        writer.close()
        report = await client.post(
            "/api/v1/reports", json={"title": "late"}, headers={"Authorization": f"Bearer {tokens.issue(user)}"}
        )
        assert report.status_code == 202
        await stream.wait_until(lambda events: any(e.event == "report.completed" for e in events), timeout=10)


async def test_a_pipelined_request_gets_its_own_deadline(limited: RunningHerald) -> None:
    """A slow body behind a complete request, in the same write, is cut off like one sent alone."""
    reader, writer = await connect(limited)
    writer.write(
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /api/v1/dev/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000\r\n\r\n{"
    )

    async def trickle() -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                await asyncio.sleep(REQUEST_SECONDS / 4)
                writer.write(b" ")
                await writer.drain()

    trickling = asyncio.create_task(trickle())
    try:
        # The health answer, then the end of the connection once the POST's deadline passed.
        everything = await asyncio.wait_for(reader.read(), timeout=REQUEST_SECONDS + 10)
    finally:
        trickling.cancel()
        writer.close()
    assert everything.startswith(b"HTTP/1.1 200")
    assert everything.count(b"HTTP/1.1 ") == 1


async def test_a_pipelined_oversized_header_is_refused(limited: RunningHerald) -> None:
    reader, writer = await connect(limited)
    writer.write(
        b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (HEADER_LIMIT * 3) + b"\r\n\r\n"
    )
    everything = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    # The oversized request is never served: refused with 431, or, while the first response is
    # still under way, the connection is closed (there is no room for a second answer).
    assert b"HTTP/1.1 200" not in everything.partition(b"HTTP/1.1 200")[2]
    if everything.startswith(b"HTTP/1.1 200"):
        assert b"HTTP/1.1 431" in everything


async def test_a_header_end_split_across_tiny_writes_is_not_taken_for_a_large_header(limited: RunningHerald) -> None:
    body = b'{"user_id": "%s"}' % str(uuid.uuid4()).encode() + b" " * 20_000
    head = b"POST /api/v1/dev/tokens HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: %d\r\nConnection: close\r\n" % len(body)
    reader, writer = await connect(limited)
    for piece in (head + b"\r", b"\n", b"\r", b"\n" + body):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0)
    response = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 200"), response[:100]


async def test_bytes_that_are_not_http_get_a_problem_document(limited: RunningHerald) -> None:
    reader, writer = await connect(limited)
    writer.write(b"GET /health?\xff HTTP/1.1\r\nHost: x\r\n\r\n")
    response = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    assert response.startswith(b"HTTP/1.1 400")
    assert b"application/problem+json" in response
