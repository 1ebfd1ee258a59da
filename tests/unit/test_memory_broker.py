"""The embedded broker: live delivery, exact resume, explicit gaps, bounded memory."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from domain.ports import EventStream
from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.streams.inbox import MAX_CHUNK_BYTES, EndReason, Inbox
from tests.support.frames import messages

REPORTS, SYSTEM = SSECategory.REPORTS, SSECategory.SYSTEM


@pytest.fixture
async def hub() -> AsyncIterator[StreamHub]:
    hub = StreamHub(inbox_capacity=50, heartbeat_seconds=60)
    yield hub
    await hub.aclose()


def make_broker(hub: StreamHub, retention: int = 10, max_users: int = 100) -> InMemoryBroker:
    return InMemoryBroker(hub, WireFormat(), retention=retention, max_retained_users=max_users)


def event(user: uuid.UUID | None, n: int, category: SSECategory = REPORTS) -> SSEEvent:
    return SSEEvent(event_type="test.event", category=category, data={"n": n}, user_id=user)


async def take(stream: EventStream, count: int) -> list[tuple[str, str, dict[str, object]]]:
    """The next ``count`` messages as (type, id, data)."""
    result = []
    async with asyncio.timeout(2):
        async for message in messages(stream):
            result.append((message.event, message.id, message.data))
            if len(result) == count:
                break
    return result


def positions(messages: list[tuple[str, str, dict[str, object]]]) -> list[tuple[int, int]]:
    """Each message's (user log, broadcast log) position."""
    return [tuple(int(part) for part in message_id.split("-")[1].split("_")) for _, message_id, _ in messages]  # type: ignore[misc]


def numbers(messages: list[tuple[str, str, dict[str, object]]]) -> list[object]:
    return [data.get("n") for kind, _, data in messages if kind == "test.event"]


async def test_live_events_reach_only_their_user_and_broadcasts_reach_all(hub: StreamHub) -> None:
    broker = make_broker(hub)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_stream = await broker.subscribe(alice)
    bob_stream = await broker.subscribe(bob)
    await broker.publish(event(alice, 1))
    await broker.broadcast(event(None, 2, SYSTEM))
    await broker.publish_to_users(event(None, 3), [alice, bob])
    assert numbers(await take(alice_stream, 3)) == [1, 2, 3]
    assert numbers(await take(bob_stream, 2)) == [2, 3]


async def test_resume_delivers_exactly_what_was_missed_in_order(hub: StreamHub) -> None:
    broker = make_broker(hub)
    user = uuid.uuid4()
    first = await broker.subscribe(user)
    for n in range(1, 4):
        await broker.publish(event(user, n))
    seen = await take(first, 3)
    await first.aclose()
    await broker.publish(event(user, 4))
    await broker.broadcast(event(None, 5, SYSTEM))
    await broker.publish(event(uuid.uuid4(), 99))
    await broker.publish(event(user, 6))
    resumed = await broker.subscribe(user, last_event_id=seen[-1][1])
    await broker.publish(event(user, 7))
    replay = await take(resumed, 4)
    assert numbers(replay) == [4, 5, 6, 7]
    ids = positions(seen + replay)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


async def test_replay_respects_the_category_filter(hub: StreamHub) -> None:
    broker = make_broker(hub)
    user = uuid.uuid4()
    stream = await broker.subscribe(user)
    await broker.publish(event(user, 1))
    [(_, first_id, _)] = await take(stream, 1)
    await broker.publish(event(user, 2, REPORTS))
    await broker.broadcast(event(None, 3, SYSTEM))
    resumed = await broker.subscribe(user, categories=frozenset({SYSTEM}), last_event_id=first_id)
    assert numbers(await take(resumed, 1)) == [3]


async def test_an_id_older_than_retention_yields_a_reset_then_what_is_left(hub: StreamHub) -> None:
    broker = make_broker(hub, retention=3)
    user = uuid.uuid4()
    stream = await broker.subscribe(user)
    await broker.publish(event(user, 1))
    [(_, first_id, _)] = await take(stream, 1)
    for n in range(2, 8):
        await broker.publish(event(user, n))
    resumed = await broker.subscribe(user, last_event_id=first_id)
    messages = await take(resumed, 4)
    assert messages[0][0] == "stream.reset"
    assert messages[0][2]["reason"] == "retention_exceeded"
    assert numbers(messages) == [5, 6, 7]
    ids = positions(messages)
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("last_event_id", "reason"),
    [
        ("not-a-position", "malformed"),
        ("{epoch}-1", "malformed"),
        ("00000000-1_0", "unknown_position"),
        ("{epoch}-9999999999999999999_0", "unknown_position"),
        ("{epoch}-0_999999", "unknown_position"),
    ],
)
async def test_ids_the_broker_did_not_issue_yield_a_reset(hub: StreamHub, last_event_id: str, reason: str) -> None:
    broker = make_broker(hub)
    user = uuid.uuid4()
    await broker.publish(event(user, 1))
    resumed = await broker.subscribe(user, last_event_id=last_event_id.format(epoch=broker._epoch))
    messages = await take(resumed, 2)
    assert (messages[0][0], messages[0][2]["reason"]) == ("stream.reset", reason)
    assert numbers(messages) == [1]


async def test_with_retention_off_resume_is_an_explicit_reset(hub: StreamHub) -> None:
    broker = make_broker(hub, retention=0)
    user = uuid.uuid4()
    await broker.publish(event(user, 1))
    resumed = await broker.subscribe(user, last_event_id=f"{broker._epoch}-1_0")
    [(kind, _, data)] = await take(resumed, 1)
    assert (kind, data["reason"]) == ("stream.reset", "retention_disabled")


async def test_a_user_whose_history_was_evicted_gets_a_reset(hub: StreamHub) -> None:
    broker = make_broker(hub, max_users=2)
    first_user = uuid.uuid4()
    await broker.publish(event(first_user, 1))
    position = f"{broker._epoch}-0_0"
    for _ in range(3):
        await broker.publish(event(uuid.uuid4(), 2))
    resumed = await broker.subscribe(first_user, last_event_id=position)
    [(kind, _, data)] = await take(resumed, 1)
    assert (kind, data["reason"]) == ("stream.reset", "retention_exceeded")


async def test_one_users_positions_do_not_move_with_another_users_events(hub: StreamHub) -> None:
    broker = make_broker(hub)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    stream = await broker.subscribe(alice)
    await broker.publish(event(alice, 1))
    before = await broker.position(alice)
    for n in range(5):
        await broker.publish(event(bob, n))
    await broker.publish_to_users(event(None, 6), [bob])
    assert await broker.position(alice) == before
    await broker.publish(event(alice, 2))
    [first, second] = positions(await take(stream, 2))
    assert (second[0] - first[0], second[1]) == (1, first[1])


async def test_a_broadcast_moves_every_users_broadcast_position_alike(hub: StreamHub) -> None:
    broker = make_broker(hub)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    alice_stream, bob_stream = await broker.subscribe(alice), await broker.subscribe(bob)
    await broker.publish(event(alice, 1))
    await broker.broadcast(event(None, 2, SYSTEM))
    [_, (alice_user, alice_broadcast)] = positions(await take(alice_stream, 2))
    [(_, bob_broadcast)] = positions(await take(bob_stream, 1))
    assert alice_broadcast == bob_broadcast == 1
    resumed = await broker.subscribe(alice, last_event_id=f"{broker._epoch}-{alice_user}_{alice_broadcast}")
    await broker.publish(event(alice, 3))
    assert numbers(await take(resumed, 1)) == [3]


async def test_a_resume_from_a_forgotten_log_is_a_reset_not_a_silent_gap(hub: StreamHub) -> None:
    broker = make_broker(hub, max_users=1)
    alice = uuid.uuid4()
    stream = await broker.subscribe(alice)
    await broker.publish(event(alice, 1))
    [(_, seen, _)] = await take(stream, 1)
    await stream.aclose()
    await broker.publish(event(alice, 2))  # missed by the client...
    await broker.publish(event(uuid.uuid4(), 99))  # ...and forgotten with alice's log
    await broker.publish(event(alice, 3))
    messages = await take(await broker.subscribe(alice, last_event_id=seen), 2)
    assert (messages[0][0], messages[0][2]["reason"]) == ("stream.reset", "retention_exceeded")
    assert numbers(messages) == [3]


async def test_a_client_that_stops_reading_is_ended_not_buffered_forever(hub: StreamHub) -> None:
    broker = make_broker(hub, retention=100)
    user = uuid.uuid4()
    stalled = await broker.subscribe(user)
    healthy = await broker.subscribe(user)
    for n in range(60):
        await broker.publish(event(user, n))
        await take(healthy, 1)
    assert stalled.end_reason is EndReason.SLOW_CLIENT
    assert hub.open_streams == 1
    assert len([frame async for frame in stalled]) == 0


async def test_closing_a_stream_releases_it(hub: StreamHub) -> None:
    broker = make_broker(hub)
    user = uuid.uuid4()
    stream = await broker.subscribe(user)
    assert hub.open_streams == 1
    await stream.aclose()
    await stream.aclose()
    assert hub.open_streams == 0
    assert hub.users() == frozenset()


async def test_idle_streams_get_heartbeats() -> None:
    hub = StreamHub(inbox_capacity=10, heartbeat_seconds=0.1)
    stream = await make_broker(hub).subscribe(uuid.uuid4())
    iterator = aiter(stream)
    async with asyncio.timeout(1):
        assert await anext(iterator) == b": ping\n\n"
    await hub.aclose()
    assert [frame async for frame in stream] == []


async def test_a_backlog_is_written_in_bounded_chunks_in_order() -> None:
    inbox = Inbox(uuid.uuid4(), None, 10_000, lambda _: None)
    frames = [f"data: {n}\n".encode() + b"x" * 10_000 + b"\n\n" for n in range(100)]
    for frame in frames:
        inbox.push(frame)
    chunks = []
    async for chunk in inbox.frames():
        chunks.append(chunk)
        if sum(map(len, chunks)) == sum(map(len, frames)):
            break
    assert b"".join(chunks) == b"".join(frames)
    assert len(chunks) > 1
    assert all(len(chunk) < MAX_CHUNK_BYTES + 10_100 for chunk in chunks)
