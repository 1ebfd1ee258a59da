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
from collections.abc import Iterable

EVENT = re.compile(rb'"sent":(\d+),"seq":(\d+)')
ID_LINE = re.compile(rb"(?:^|\n)id: ([^\n]+)\n")
STREAM_END = b"event: stream.end"


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
    """One SSE connection."""

    def __init__(self, recorder: Recorder, request: bytes, *, keep_ids: bool = False) -> None:
        self.recorder = recorder
        self.request = request
        self.keep_ids = keep_ids
        self.opened: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.in_body = False
        self.received = 0
        self.ended_by_server = False
        self.last_id: bytes | None = None
        self.waiting_for: tuple[int, asyncio.Future[None]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(self.request)

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
        if self.keep_ids:
            ids = ID_LINE.findall(frames)
            if ids:
                self.last_id = ids[-1]
        if STREAM_END in frames:
            self.ended_by_server = True
        if got and self.waiting_for is not None and self.received >= self.waiting_for[0]:
            self.waiting_for[1].set_result(None)
            self.waiting_for = None

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
            self.ended_by_server = True
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        transport, self.transport = self.transport, None
        if transport is not None:
            transport.close()


def stream_request(port: int, token: str, last_event_id: bytes | None = None) -> bytes:
    lines = [
        b"GET /api/v1/events HTTP/1.1",
        f"Host: 127.0.0.1:{port}".encode(),
        f"Authorization: Bearer {token}".encode(),
        b"Accept: text/event-stream",
    ]
    if last_event_id is not None:
        lines.append(b"Last-Event-ID: " + last_event_id)
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def open_streams(
    port: int, tokens: Iterable[str], recorder: Recorder, *, concurrency: int = 256
) -> tuple[list[StreamClient], int]:
    """Open one stream per token, ``concurrency`` handshakes at a time; return the clients and the failures."""
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(concurrency)
    clients: list[StreamClient] = []

    async def one(token: str) -> bool:
        async with gate:
            client = StreamClient(recorder, stream_request(port, token))
            try:
                await loop.create_connection(lambda: client, "127.0.0.1", port)
                status = await asyncio.wait_for(client.opened, 30)
            except (OSError, TimeoutError):
                client.close()
                return False
            clients.append(client)
            return status == 200

    results = await asyncio.gather(*(one(token) for token in tokens))
    return clients, results.count(False)
