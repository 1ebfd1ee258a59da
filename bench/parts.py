"""The stream path's parts one at a time, in-process: for comparing two versions of Herald side by side.

``PYTHONPATH=src:. .venv/bin/python bench/parts.py`` from a checkout's root
times the parts a user-only stream goes through: the Redis subscriber's live path (one message to one stream, and to 100
streams of one user), its part of opening a stream and of resuming 1,000
events behind (on a private redis-server), the objects and bytes one open
stream keeps, and the publishing side's transform and messages. Run it in
two worktrees, one after the other and again, to compare versions: it reads
each version's own code, and adapts to the signatures that changed when
groups came (docs/performance.md has the commands).

``--tracing on`` times the same parts with tracing on: each live message
carries a sampled trace's context (a delivery span per message, batched to an
exporter that drops them), and the publisher's messages are made inside a
request's span. Without it, the parts run as tracing leaves them when off
(and as a version without tracing runs them).
"""

import argparse
import asyncio
import contextlib
import gc
import inspect
import pathlib
import time
import tracemalloc
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from redis.asyncio import Redis

from domain.events import DomainEvent
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.brokers.redis.subscription import Subscription
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub

#: Each figure is the best of this many repeats: the least disturbed by the rest of the machine.
REPEATS = 5
#: A sampled trace's W3C context, as a message published within a traced request carries it.
TRACEPARENT = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}


def _tracing(on: bool) -> dict[str, Any]:
    """The keyword that turns tracing on in the subscriber and the publisher (none when off, as in older versions)."""
    if not on:
        return {}
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415 - a version without tracing never gets here
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult  # noqa: PLC0415

    from infrastructure.tracing.tracing import Tracing  # noqa: PLC0415

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Dropped()))
    return {"tracing": Tracing(provider)}


def _subscription(inbox: Any, hub: StreamHub) -> Subscription:
    takes_hub = len(inspect.signature(Subscription.__init__).parameters) > 2
    return Subscription(inbox, hub) if takes_hub else Subscription(inbox)  # type: ignore[call-arg]


def _best(run: Callable[[], float]) -> float:
    return min(run() for _ in range(REPEATS))


async def live_delivery(streams: int, messages: int = 2000, *, traced: bool = False) -> tuple[float, float]:
    """Microseconds per message and per delivery: one user's messages to its ``streams`` streams."""
    wire, keys = WireFormat(), RedisKeys("parts")
    hub = StreamHub(inbox_capacity=10**9, heartbeat_seconds=3600)
    subscriber = RedisSubscriber(Redis(), Redis(), keys, hub, wire, retention=1000, **_tracing(traced))
    user = uuid.uuid4()
    for _ in range(streams):
        inbox = hub.open(user, None)
        subscription = _subscription(inbox, hub)
        subscription.held = None  # live
        inbox.adapter_state = subscription
    data = {"report_id": str(uuid.uuid4()), "version": 2, "percent": 50, "step": "aggregating"}
    sse = SSEEvent(event_type="report.progress", category=SSECategory.REPORTS, data=data, user_id=user)
    payload = wire.dumps_event(sse, TRACEPARENT) if traced else wire.dumps_event(sse)
    frames = [f"{1_733_590_000_000 + i}-0\n".encode() + payload for i in range(messages)]
    channel, inboxes = keys.user_channel(user), hub.streams_of(user)

    def run() -> float:
        for inbox in inboxes:
            inbox._frames.clear()
            cursor = inbox.adapter_state.cursor  # type: ignore[attr-defined]
            inbox.adapter_state.cursor = cursor._replace(user=type(cursor.user)(0, 0))  # type: ignore[attr-defined]
        started = time.perf_counter()
        for frame in frames:
            subscriber._on_message(channel, frame)
        return time.perf_counter() - started

    per_message = _best(run) / messages * 1e6
    return per_message, per_message / streams


async def _on_redis(work: Callable[[str], Awaitable[float]]) -> float:
    from bench.redis_server import PRIVATE, redis_for_bench  # noqa: PLC0415 - only what needs a server starts one

    with redis_for_bench(PRIVATE) as url:
        return await work(url)


async def opening(url: str, streams: int = 2000) -> float:
    """CPU microseconds of the subscriber's part of opening a stream (new users, 50 at a time)."""
    hub = StreamHub(inbox_capacity=1000, heartbeat_seconds=3600)
    subscriber = RedisSubscriber(
        Redis.from_url(url),
        Redis.from_url(url, max_connections=200),
        RedisKeys("parts"),
        hub,
        WireFormat(),
        retention=5000,
    )
    await subscriber.start()
    results = []
    for _ in range(REPEATS):
        users = [uuid.uuid4() for _ in range(streams)]
        started = time.process_time()
        opened = []
        for batch in range(0, streams, 50):
            opened += await asyncio.gather(*(subscriber.subscribe(user) for user in users[batch : batch + 50]))
        results.append((time.process_time() - started) / streams * 1e6)
        for stream in opened:
            await stream.aclose()
    await subscriber.aclose()
    return min(results)


async def resuming(url: str, behind: int = 1000) -> float:
    """Milliseconds to resume a stream ``behind`` events behind (the replay read and framed)."""
    wire, keys = WireFormat(), RedisKeys("parts")
    client = Redis.from_url(url)
    hub = StreamHub(inbox_capacity=10**9, heartbeat_seconds=3600)
    publisher = RedisPublisher(client, keys, wire, retention=5000, ttl_seconds=600, retry_seconds=5, buffer_size=10**4)
    subscriber = RedisSubscriber(Redis.from_url(url), client, keys, hub, wire, retention=5000)
    await subscriber.start()
    user = uuid.uuid4()
    start = await subscriber.position(user)
    for n in range(behind):
        data = {"n": n, "report_id": str(uuid.uuid4())}
        await publisher.publish(
            SSEEvent(event_type="report.progress", category=SSECategory.REPORTS, data=data, user_id=user)
        )
    times = []
    for _ in range(3 * REPEATS):
        started = time.perf_counter()
        stream = await subscriber.subscribe(user, last_event_id=start)
        times.append(time.perf_counter() - started)
        await stream.aclose()
    await subscriber.aclose()
    return sorted(times)[len(times) // 2] * 1000


async def kept_per_stream(streams: int = 10_000) -> tuple[float, float]:
    """Objects tracked by the garbage collector, and bytes, that one open stream keeps (hub, inbox, subscription)."""
    hub = StreamHub(inbox_capacity=100, heartbeat_seconds=3600)
    takes_groups = "groups" in inspect.signature(hub.open).parameters
    gc.collect()
    before = len(gc.get_objects())
    tracemalloc.start()
    snapshot = tracemalloc.take_snapshot()
    for _ in range(streams):
        # What the stream route passes for a stream in no group: a set made for it.
        inbox = (
            hub.open(uuid.uuid4(), None, frozenset() | frozenset()) if takes_groups else hub.open(uuid.uuid4(), None)
        )
        inbox.adapter_state = _subscription(inbox, hub)
    gc.collect()
    objects = (len(gc.get_objects()) - before) / streams
    grown = sum(stat.size_diff for stat in tracemalloc.take_snapshot().compare_to(snapshot, "filename"))
    tracemalloc.stop()
    return objects, grown / streams


@attrs.frozen(kw_only=True)
class Pinged(DomainEvent):
    """A user-only event, mapped with the registry's defaults."""

    sent: int
    user_id: uuid.UUID


def publishing(events: int = 20_000, *, traced: bool = False) -> tuple[float, float]:
    """Microseconds per user-only event of the SSE handler's transform, and of the Redis publisher's messages."""
    mapping = DomainToSSEMapping(
        domain_event=Pinged, sse_event_type="parts.ping", category=SSECategory.SYSTEM, description="A part's event."
    )
    wire = WireFormat()
    tracing = _tracing(traced)
    publisher = RedisPublisher(
        Redis(), RedisKeys("parts"), wire, retention=10, ttl_seconds=10, retry_seconds=1, buffer_size=10, **tracing
    )
    handler = SSEEventHandler(EventRegistry([mapping]), publisher, wire)
    event = Pinged(sent=1, user_id=uuid.uuid4())
    sse = handler.transform(mapping, event).event
    messages: Callable[[], object] = (
        (lambda: publisher._messages(sse))
        if hasattr(publisher, "_messages")
        else (lambda: publisher._message(sse.user_id, sse))  # type: ignore[attr-defined]
    )

    def timed(step: Callable[[], object]) -> float:
        started = time.perf_counter()
        for _ in range(events):
            step()
        return time.perf_counter() - started

    transform = _best(lambda: timed(lambda: handler.transform(mapping, event))) / events * 1e6
    within = contextlib.nullcontext()
    if traced:  # inside a request's span, as a use case publishes
        from opentelemetry.trace import SpanKind  # noqa: PLC0415

        within = tracing["tracing"].tracer.start_as_current_span("POST /api/v1/announcements", kind=SpanKind.SERVER)
    with within:
        return transform, _best(lambda: timed(messages)) / events * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracing", choices=("off", "on"), default="off", help="time the parts with tracing on")
    parser.add_argument("--live-only", action="store_true", help="the live path and the publisher's part only")
    args = parser.parse_args()
    traced = args.tracing == "on"
    root = pathlib.Path(inspect.getfile(Subscription)).parents[4]
    print(f"Herald from {root}; tracing {args.tracing}; best of {REPEATS}")
    for streams in (1, 100):
        per_message, per_delivery = asyncio.run(live_delivery(streams, traced=traced))
        print(f"live, {streams} stream(s): {per_message:.2f} µs per message, {per_delivery:.3f} µs per delivery")
    transform, messages = publishing(traced=traced)
    print(f"publishing: transform {transform:.2f} µs, publisher's messages {messages:.2f} µs per event")
    if args.live_only:
        return
    print(f"open (subscriber's part): {asyncio.run(_on_redis(opening)):.0f} µs of CPU per stream")
    print(f"resume 1,000 behind: {asyncio.run(_on_redis(resuming)):.2f} ms (median)")
    objects, size = asyncio.run(kept_per_stream())
    print(f"kept per open stream: {objects:.2f} tracked objects, {size:.0f} bytes")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
