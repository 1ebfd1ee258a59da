"""What a process remembers of its recent deliveries: counts per event, a bounded ring, timed writes."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.deliveries import RecentDeliveries
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import EndReason


@pytest.fixture
async def hub() -> AsyncIterator[StreamHub]:
    hub = StreamHub(inbox_capacity=2, heartbeat_seconds=60, recent_events=3)
    yield hub
    await hub.aclose()


def announcement(committed_ago: float | None = None) -> SSEEvent:
    committed = datetime.now(UTC) - timedelta(seconds=committed_ago) if committed_ago is not None else None
    return SSEEvent(event_type="a", category=SSECategory.SYSTEM, data={}, user_id=None, committed_at=committed)


async def test_a_written_frame_is_timed_from_its_commit_and_counted_on_its_event() -> None:
    hub = StreamHub(inbox_capacity=10, heartbeat_seconds=60)
    broker = InMemoryBroker(hub, WireFormat(), retention=10, max_retained_users=10)
    stream = await broker.subscribe(uuid.uuid4())
    sent = announcement(committed_ago=0.3)
    await broker.publish(sent)
    frames = aiter(stream)
    await anext(frames)  # written; the writer asks for the next one, which reports the first written
    waiting = asyncio.ensure_future(anext(frames))
    await asyncio.sleep(0)

    record = hub.deliveries.find(str(sent.event_id))
    histogram = hub.deliveries.latency.by_category[SSECategory.SYSTEM]
    assert record is not None
    assert (record.queued, record.written) == (1, 1)
    assert histogram.count == 1
    assert 0.3 <= histogram.total < 5
    waiting.cancel()
    await hub.aclose()


async def test_streams_cut_off_or_filtered_are_counted_by_reason(hub: StreamHub) -> None:
    broker = InMemoryBroker(hub, WireFormat(), retention=10, max_retained_users=10)
    slow, picky = uuid.uuid4(), uuid.uuid4()
    await broker.subscribe(slow)
    await broker.subscribe(picky, categories=frozenset({SSECategory.REPORTS}))
    sent = [announcement() for _ in range(3)]
    for event in sent:  # the slow stream reads nothing: the third passes its capacity
        await broker.publish(event)

    last = hub.deliveries.find(str(sent[2].event_id))
    first = hub.deliveries.find(str(sent[0].event_id))
    assert last is not None
    assert first is not None
    assert last.skipped == {"filtered_by_category": 1, "slow_client": 1}
    assert first.skipped == {"filtered_by_category": 1, EndReason.SLOW_CLIENT.value: 1}  # queued, then dropped
    assert ("slow_client", str(slow)) in last.examples


def test_the_ring_forgets_the_oldest_event_and_the_window_hides_old_ones() -> None:
    recent = RecentDeliveries(capacity=2, window_seconds=60)
    for n in range(3):
        recent.begin(f"e{n}", "a", SSECategory.SYSTEM, None)

    assert recent.find("e0") is None
    assert recent.find("e2") is not None
    again = recent.begin("e2", "a", SSECategory.SYSTEM, None)
    assert again is recent.find("e2")  # one record per event, however many messages bring it
    old = recent.find("e1")
    assert old is not None
    old.first_at -= 61
    assert recent.find("e1") is None


def test_changes_are_kept_only_while_shared_and_reported_once_each() -> None:
    recent = RecentDeliveries(capacity=10, window_seconds=60)
    alone = recent.begin("e0", "a", SSECategory.SYSTEM, None)
    alone.wrote(0.0)
    assert recent.take_changes() == []

    recent.share()
    record = recent.begin("e1", "a", SSECategory.SYSTEM, None)
    record.skip("filtered_by_category", "someone")
    record.wrote(0.0)
    assert recent.take_changes() == [record]
    assert recent.take_changes() == []
    record.wrote(0.0)
    assert recent.take_changes() == [record]
