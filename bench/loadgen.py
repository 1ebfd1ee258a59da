"""The load generator: thousands of SSE clients on raw asyncio protocols, one process.

Each client sends one ``GET /api/v1/events`` with its bearer token and scans
what arrives for ``"sent":<ns>,"seq":<n>`` (payload fields every target
carries), recording the latency of each event and which sequence numbers
arrived. Parsing is a regular expression over whole frames: the generator
must stay cheaper than the servers it measures.
"""

import asyncio
import re
import time
from collections.abc import Callable, Iterable

EVENT = re.compile(rb'"sent":(\d+),"seq":(\d+)')


class Recorder:
    """What every client received inside the current measurement window."""

    def __init__(self) -> None:
        self.window(0, 0)

    def window(self, first_seq: int, end_seq: int) -> None:
        """Record only events with ``first_seq <= seq < end_seq`` from now on."""
        self.first_seq, self.end_seq = first_seq, end_seq
        self.latencies_ns: list[int] = []
        self.seen: set[int] = set()
        self.duplicates = 0
        self.last_received_ns = 0
        self.first_received_ns = 0
        self._goal: tuple[int, asyncio.Event] | None = None

    async def wait_for(self, count: int, seconds: float) -> None:
        """Return once ``count`` events arrived in this window, or after ``seconds`` (the drain window)."""
        if len(self.latencies_ns) >= count:
            return
        reached = asyncio.Event()
        self._goal = (count, reached)
        try:
            await asyncio.wait_for(reached.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self._goal = None

    def record(self, frames: bytes, now_ns: int) -> int:
        count = 0
        for match in EVENT.finditer(frames):
            seq = int(match[2])
            if self.first_seq <= seq < self.end_seq:
                self.latencies_ns.append(now_ns - int(match[1]))
                count += 1
                if seq in self.seen and self.end_seq - self.first_seq > 1:
                    self.duplicates += 1
                self.seen.add(seq)
        if count:
            self.last_received_ns = now_ns
            if not self.first_received_ns:
                self.first_received_ns = now_ns
            if self._goal is not None and len(self.latencies_ns) >= self._goal[0]:
                self._goal[1].set()
        return count


class StreamClient(asyncio.Protocol):
    """One SSE connection that, like a browser's EventSource, reconnects with ``Last-Event-ID`` when ended."""

    def __init__(self, recorder: Recorder, port: int, token: str, *, resume: bool = True, query: str = "") -> None:
        self.recorder = recorder
        self.port = port
        self.token = token
        self.resume = resume
        self.query = query
        self.opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.in_body = False
        self.received = 0
        self.ended_by_server = 0
        self.failed = False
        self.last_id: bytes | None = None
        self.waiting_for: tuple[int, asyncio.Future[None]] | None = None
        self.on_end: Callable[[StreamClient], None] | None = None
        """Called when the server ended the stream (after the reconnect, if ``resume``, has been started)."""

    async def connect(self, answer_seconds: float = 30) -> int:
        """Open (or reopen) the stream; return the response status (0 when the connection failed)."""
        self.buffer, self.in_body = b"", False
        self.opened = asyncio.get_running_loop().create_future()
        await asyncio.get_running_loop().create_connection(lambda: self, "127.0.0.1", self.port)
        return await asyncio.wait_for(self.opened, answer_seconds)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(stream_request(self.port, self.token, self.last_id, self.query))

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buffer = self.buffer + data
        if not self.in_body:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                self.buffer = buffer
                return
            status = int(buffer[9:12])
            if not self.opened.done():
                self.opened.set_result(status)
            if status != 200:
                self.close()
                return
            self.in_body = True
            buffer = buffer[head_end + 4 :]
        # Frames end with a blank line: LF LF, or CR LF CR LF (Litestar's ServerSentEvent).
        end = max(buffer.rfind(b"\n\n") + 2, buffer.rfind(b"\n\r\n") + 3)
        if end < 3:
            self.buffer = buffer
            return
        frames, self.buffer = buffer[:end], buffer[end:]
        got = self.recorder.record(frames, now)
        self.received += got
        at = frames.rfind(b"id: ")
        if at >= 0 and (at == 0 or frames[at - 1] == 10):
            self.last_id = frames[at + 4 : frames.index(b"\n", at)]
        if got and self.waiting_for is not None and self.received >= self.waiting_for[0]:
            self.waiting_for[1].set_result(None)
            self.waiting_for = None
        if self.buffer.endswith(BODY_END) or frames.endswith(BODY_END):
            self._ended()

    async def wait_for_events(self, count: int) -> None:
        """Return once this client has received ``count`` recorded events in all."""
        if self.received < count:
            future = asyncio.get_running_loop().create_future()
            self.waiting_for = (count, future)
            await future

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_result(0)
        if self.transport is not None:  # not closed by us
            self._ended()

    def _ended(self) -> None:
        transport, self.transport = self.transport, None
        if transport is None:
            return
        transport.close()
        self.ended_by_server += 1
        if self.resume:
            task = asyncio.get_running_loop().create_task(self.connect())
            _reconnecting.add(task)
            task.add_done_callback(_reconnecting.discard)
        if self.on_end is not None:
            self.on_end(self)

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


#: The end of a chunked response body: the server ended the stream.
BODY_END = b"\r\n0\r\n\r\n"
_reconnecting: set[asyncio.Task[int]] = set()


def stream_request(port: int, token: str, last_event_id: bytes | None = None, query: str = "") -> bytes:
    """The stream's request; ``query`` (``watch=...``) goes after the path's ``?``."""
    lines = [
        f"GET /api/v1/events{'?' + query if query else ''} HTTP/1.1".encode(),
        f"Host: 127.0.0.1:{port}".encode(),
        f"Authorization: Bearer {token}".encode(),
        b"Accept: text/event-stream",
    ]
    if last_event_id is not None:
        lines.append(b"Last-Event-ID: " + last_event_id)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def open_stream(
    port: int,
    token: str,
    recorder: Recorder,
    query: str,
    gate: asyncio.Semaphore,
    client_class: type[StreamClient] = StreamClient,
) -> StreamClient:
    """One stream, its handshake within ``gate``; a refused or failed one is closed and marked ``failed``."""
    async with gate:
        client = client_class(recorder, port, token, query=query)
        try:
            status = await client.connect()
        except (OSError, TimeoutError):
            status = 0
        if status != 200:
            client.close()
            client.failed = True
        return client


async def open_streams(
    port: int, tokens: Iterable[str], recorder: Recorder, *, concurrency: int = 256, query: str = ""
) -> tuple[list[StreamClient], int]:
    """Open one stream per token, ``concurrency`` handshakes at a time (each with ``query``, if any).

    Returns the clients in the order of ``tokens`` (the publisher addresses
    users by that order) and how many failed to open.
    """
    gate = asyncio.Semaphore(concurrency)
    clients = await asyncio.gather(*(open_stream(port, token, recorder, query, gate) for token in tokens))
    return list(clients), sum(1 for client in clients if client.failed)
