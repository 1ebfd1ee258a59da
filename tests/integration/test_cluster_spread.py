"""On a Redis Cluster, users spread over the primaries: no primary holds much more than its share."""

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest
import redis.asyncio as aredis

from domain.sse import SSECategory, SSEEvent
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.container import Container, resolve, start, stop
from tests.conftest import fast_settings

pytestmark = pytest.mark.needs("redis-server")

USERS = 10_000
#: Three primaries: a third each would be even; the partitions put five, six and five of sixteen on them.
MOST_ON_ONE_PRIMARY = 0.40


async def _evalsha_calls(admin: aredis.RedisCluster) -> dict[str, int]:
    calls = {}
    for node in admin.get_primaries():
        stats = await admin.info("commandstats", target_nodes=node)
        calls[node.name] = int(stats.get("cmdstat_evalsha", {}).get("calls", 0))
    return calls


async def test_users_keys_and_publish_calls_spread_over_the_primaries(redis_cluster_url: str, tmp_path: Path) -> None:
    prefix = f"spread-{uuid.uuid4().hex[:8]}"
    container = Container()
    container.settings.override(fast_settings(redis_url=redis_cluster_url, redis_prefix=prefix))
    admin = aredis.RedisCluster.from_url(redis_cluster_url)
    await admin.initialize()
    await start(container)
    try:
        publisher = await resolve(container.publisher)
        assert isinstance(publisher, RedisPublisher)
        calls_before = await _evalsha_calls(admin)
        users = [uuid.uuid4() for _ in range(USERS)]

        async def publish_to(chunk: list[uuid.UUID]) -> None:
            for user in chunk:
                event = SSEEvent(event_type="test.spread", category=SSECategory.SYSTEM, data={}, user_id=user)
                await publisher.publish(event)

        await asyncio.gather(*(publish_to(users[i::50]) for i in range(50)))
        calls_after = await _evalsha_calls(admin)

        keys_by_node: Counter[str] = Counter()
        for node in admin.get_primaries():
            async for _ in admin.scan_iter(match=f"{prefix}:*:log:user:*", count=1000, target_nodes=node):
                keys_by_node[node.name] += 1
        calls_by_node = {name: calls_after[name] - calls_before[name] for name in calls_after}
    finally:
        await stop(container)
        for node in admin.get_primaries():
            keys = [key async for key in admin.scan_iter(match=f"{prefix}:*", count=1000, target_nodes=node)]
            if keys:
                await admin.delete(*keys)
        await admin.aclose()

    assert sum(keys_by_node.values()) == USERS
    key_shares = {name: count / USERS for name, count in keys_by_node.items()}
    call_shares = {name: count / sum(calls_by_node.values()) for name, count in calls_by_node.items()}
    print(f"\nspread of {USERS} users' logs over the primaries: {key_shares}; of the publish calls: {call_shares}")
    assert len(key_shares) == 3
    assert max(key_shares.values()) <= MOST_ON_ONE_PRIMARY
    assert max(call_shares.values()) <= MOST_ON_ONE_PRIMARY
