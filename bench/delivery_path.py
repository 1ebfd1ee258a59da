"""The hot stream path end to end, in-process: a live message fanned out to its streams and written by each.

``PYTHONPATH=src:. .venv/bin/python bench/delivery_path.py`` from a checkout's root times what every event
costs per stream it reaches: the Redis subscriber's fan-out (decode once, queue a frame per stream) and each
stream's writer taking the frame and coming back for the next (its queue's generator, stepped by hand,
writing to nothing).
The messages carry a commit time, as the outbox relay's do, so a version that times commit-to-socket pays for
it here. It reads each version's own code, so it compares two worktrees the way ``bench/parts.py`` does
(docs/performance.md has the commands).
"""

import asyncio
import contextlib
import inspect
import pathlib
import time
import uuid
from datetime import UTC, datetime

import orjson
from redis.asyncio import Redis

from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.brokers.redis.subscription import Subscription
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub

#: Each figure is the best of this many repeats: the least disturbed by the rest of the machine.
REPEATS = 9


async def delivery_path(streams: int, messages: int, *, broadcast: bool) -> float:
    """CPU microseconds per delivery (one message to one stream, fanned out and written)."""
    wire, keys = WireFormat(), RedisKeys("parts")
    hub = StreamHub(inbox_capacity=10**9, heartbeat_seconds=3600)
    subscriber = RedisSubscriber(Redis(), Redis(), keys, hub, wire, retention=1000)
    inboxes = []
    for _ in range(streams):
        inbox = hub.open(uuid.uuid4() if broadcast else uuid.UUID(int=1), None)
        subscription = Subscription(inbox, hub)
        subscription.held = None  # live
        inbox.adapter_state = subscription
        inboxes.append(inbox)
    data = {"report_id": str(uuid.uuid4()), "version": 2, "percent": 50, "step": "aggregating"}
    user = None if broadcast else uuid.UUID(int=1)
    fields = orjson.loads(
        wire.dumps_event(SSEEvent(event_type="report.progress", category=SSECategory.REPORTS, data=data, user_id=user))
    )
    channel = keys.broadcast_channel if broadcast else keys.user_channel(uuid.UUID(int=1))
    # Each stream's writer, stepped by hand: what its task does between two writes, without the loop's
    # scheduling (the same in every version, and the noisiest part on a shared machine).
    writers = [_Writer(inbox) for inbox in inboxes]
    best = float("inf")
    for repeat in range(REPEATS):
        for inbox in inboxes:
            cursor = inbox.adapter_state.cursor  # type: ignore[attr-defined]
            origin = type(cursor.user)(0, 0)
            inbox.adapter_state.cursor = cursor._replace(user=origin, broadcast=origin)  # type: ignore[attr-defined]
        frames = []
        for i in range(messages):
            committed = {**fields, "committed_at": datetime.now(UTC).isoformat(), "event_id": str(uuid.uuid4())}
            frames.append(f"{1_733_590_000_000 + repeat * messages + i}-0\n".encode() + orjson.dumps(committed))
        written = 0
        started = time.process_time()  # this process's CPU: the machine's other work counts less
        for frame in frames:
            subscriber._on_message(channel, frame)
            for writer in writers:
                written += writer.write()
        best = min(best, time.process_time() - started)
        assert written == messages * streams, written
    await hub.aclose()
    return best / (messages * streams) * 1e6


class _Writer:
    """A stream's writer: takes what is queued, then comes back for more (which reports the last write done)."""

    def __init__(self, inbox: object) -> None:
        self._frames = inbox.frames()  # type: ignore[attr-defined]
        self._step = anext(self._frames)
        self._step.send(None)  # nothing queued yet: it waits

    def write(self) -> int:
        """Frames written now (the queued chunk taken, and the writer back to waiting)."""
        try:
            self._step.send(None)
        except StopIteration as taken:
            chunk = taken.value
        self._step = anext(self._frames)
        self._step.send(None)  # after the write: bookkeeping, then waiting for the next frame
        return int(chunk.count(b"\n\n"))


def main() -> None:
    print(f"Herald from {pathlib.Path(inspect.getfile(Subscription)).parents[4]}; best of {REPEATS}")
    for streams, messages, broadcast in ((100, 2000, False), (1000, 200, True)):
        per_delivery = asyncio.run(delivery_path(streams, messages, broadcast=broadcast))
        kind = "broadcast" if broadcast else "one user's"
        print(f"{kind} messages to {streams} streams: {per_delivery:.3f} µs of CPU per delivery")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
