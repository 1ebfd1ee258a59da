"""Publishes that use cases raise together go to Redis in batches, and each caller's events keep their order."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aredis

from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.redis.keys import Position
from infrastructure.brokers.redis.publish_script import AttemptFencedError, OutgoingMessage
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.container import Container, resolve, start, stop

pytestmark = pytest.mark.needs("redis-server")

CALLERS, EACH = 40, 25


@pytest.fixture
async def started(make_redis_container: Callable[..., Container]) -> AsyncIterator[tuple[Container, RedisPublisher]]:
    container = make_redis_container()
    await start(container)
    try:
        publisher = await resolve(container.publisher)
        assert isinstance(publisher, RedisPublisher)
        yield container, publisher
    finally:
        await stop(container)


async def test_concurrent_callers_are_batched_and_keep_their_order(
    started: tuple[Container, RedisPublisher], redis_admin: aredis.Redis
) -> None:
    container, publisher = started
    user = uuid.uuid4()
    commands_before = await _script_calls(redis_admin)

    async def caller(number: int) -> None:
        for n in range(EACH):
            event = SSEEvent(
                event_type="test.n", category=SSECategory.SYSTEM, data={"caller": number, "n": n}, user_id=user
            )
            await publisher.publish(event)

    await asyncio.gather(*(caller(number) for number in range(CALLERS)))
    script_calls = await _script_calls(redis_admin) - commands_before

    entries = await redis_admin.xrange(container.redis.keys().user_log(user))
    wire = container.wire_format()
    seen = [wire.loads_event(fields[b"e"]).data for _, fields in entries]
    assert len(seen) == CALLERS * EACH
    for number in range(CALLERS):
        assert [d["n"] for d in seen if d["caller"] == number] == list(range(EACH))
    positions = [Position.parse(entry_id.decode()) for entry_id, _ in entries]
    assert positions == sorted(positions)
    assert publisher.stats.published == CALLERS * EACH
    # One script call per loop turn, not per event (other tests may share this Redis: an upper bound only).
    assert script_calls <= EACH * 2 + 10


def _attempt_and_retry(
    publisher: RedisPublisher, user: uuid.UUID, *, count: int, token: str
) -> tuple[list[OutgoingMessage], list[OutgoingMessage]]:
    """``count`` messages for ``user`` as a first attempt ``token`` would send them, and as its retry would."""
    events = [
        SSEEvent(event_type="test.n", category=SSECategory.SYSTEM, data={"n": n}, user_id=user) for n in range(count)
    ]
    first = [message for event in events for message in publisher._messages(event)]
    return first, [message.tried(token, int(time.time() * 1000)) for message in first]


async def _script_calls(client: aredis.Redis) -> int:
    stats = await client.info("commandstats")
    return int(stats.get("cmdstat_evalsha", {}).get("calls", 0)) + int(stats.get("cmdstat_eval", {}).get("calls", 0))


async def test_a_retry_skips_what_an_attempt_with_a_lost_answer_had_written(
    started: tuple[Container, RedisPublisher], redis_admin: aredis.Redis
) -> None:
    """The attempt ran, its answer never came, the publisher tries again: nothing is written twice."""
    container, publisher = started
    user = uuid.uuid4()
    first, retry = _attempt_and_retry(publisher, user, count=3, token="first")
    assert await publisher._execute(first[:2], "first") == 2  # ran, but suppose its answer was lost
    assert await publisher._execute(retry, "retry") == 1  # only the third was never written
    assert await _numbers(container, redis_admin, user) == [0, 1, 2]
    assert publisher.stats.deduplicated == 2


async def test_an_attempt_that_runs_after_its_retry_does_nothing(
    started: tuple[Container, RedisPublisher], redis_admin: aredis.Redis
) -> None:
    """The attempt's bytes waited unread in Redis (a frozen server) while its retry went through."""
    container, publisher = started
    user = uuid.uuid4()
    first, retry = _attempt_and_retry(publisher, user, count=2, token="late")
    assert await publisher._execute(retry, "retry") == 2
    with pytest.raises(AttemptFencedError):  # fenced off by its retry: it says so, and writes nothing
        await publisher._execute(first, "late")
    assert await _numbers(container, redis_admin, user) == [0, 1]


async def _numbers(container: Container, client: aredis.Redis, user: uuid.UUID) -> list[int]:
    entries = await client.xrange(container.redis.keys().user_log(user))
    wire = container.wire_format()
    return [int(str(wire.loads_event(fields[b"e"]).data["n"])) for _, fields in entries]
