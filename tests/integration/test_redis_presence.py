"""Presence on Redis, single node and Cluster: the API's presence tests, and presence across processes."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aredis

from domain.events import PresenceLeft
from domain.sse import Group, GroupKind
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.container import Container
from infrastructure.presence import PresenceTracker, RedisPresenceStore
from tests.api.test_presence import (
    GRACE,
    test_a_non_member_learns_nothing_and_a_tenant_sees_its_own,
    test_a_reconnect_within_the_grace_is_neither_a_leave_nor_a_join,
    test_watchers_see_each_other_come_once_and_go_after_the_grace,
)
from tests.api.test_watches import Auth, served
from tests.unit.test_presence_tracker import Recorded

__all__ = [
    "test_a_non_member_learns_nothing_and_a_tenant_sees_its_own",
    "test_a_reconnect_within_the_grace_is_neither_a_leave_nor_a_join",
    "test_watchers_see_each_other_come_once_and_go_after_the_grace",
]


@pytest.fixture
async def api(make_redis_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    async with served(make_redis_container, presence_grace_seconds=GRACE) as api:
        yield api


async def test_a_dead_processs_users_are_swept_in_their_groups_slot(
    redis_prefix: str, redis_admin: aredis.Redis
) -> None:
    """The sweep names a dead process's group keys inside the script, in the leases' slot: fine on a cluster too."""
    store = RedisPresenceStore(redis_admin, RedisKeys(redis_prefix), timeout_seconds=2)
    dead_bus, live_bus = Recorded(), Recorded()
    settings = {"announced": {GroupKind.REPORT}, "grace_seconds": 0, "timeout_seconds": 0.3}
    dead, live = PresenceTracker(store, dead_bus, **settings), PresenceTracker(store, live_bus, **settings)  # type: ignore[arg-type]
    groups = [Group(GroupKind.REPORT, str(uuid.uuid4())) for _ in range(8)]  # over several partitions
    user, other = uuid.uuid4(), uuid.uuid4()
    dead.track(user, groups)
    live.track(other, groups[:1])
    await dead.sync()
    await live.sync()
    assert {await store.count(group) for group in groups[1:]} == {1}
    assert await store.count(groups[0]) == 2
    # ``dead`` says nothing more; ``live`` renews and sweeps, until the dead lease has run out.
    async with asyncio.timeout(10):
        while not any(isinstance(event, PresenceLeft) for event in live_bus.events):
            await live.sync()
            await asyncio.sleep(0.05)
    left = sorted((e.group_id, e.user_id) for e in live_bus.events if isinstance(e, PresenceLeft))
    assert left == sorted((group.id, user) for group in groups)
    assert [await store.count(group) for group in groups] == [1] + [0] * 7
    page = await store.members(groups[0], after=None, limit=100)
    assert [m.user_id for m in page.members] == [other]
