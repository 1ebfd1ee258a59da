"""Watching groups on Redis, single node and Cluster: the API's watch tests, and an unshare across processes."""

import json
import os
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import redis.asyncio as aredis

from domain.sse import Group, GroupKind, SSECategory, SSEEvent
from infrastructure.container import Container, resolve
from tests.api.test_report_shares import a_report
from tests.api.test_watches import (
    Auth,
    served,
    shared,
    test_a_watcher_gets_the_whole_report_from_its_snapshot_and_its_owner_each_event_once,
    test_an_unshared_watcher_is_told_and_gets_nothing_more_of_the_report,
)
from tests.integration.helpers import connections_named
from tests.support.server import serve
from tests.support.streams import StreamReader

__all__ = [
    "test_a_watcher_gets_the_whole_report_from_its_snapshot_and_its_owner_each_event_once",
    "test_an_unshared_watcher_is_told_and_gets_nothing_more_of_the_report",
]


@pytest.fixture
async def api(make_redis_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    async with served(make_redis_container) as api:
        yield api


async def test_a_leave_reaches_a_watcher_on_another_process_across_a_pubsub_drop(
    make_redis_container: Callable[..., Container], redis_admin: aredis.Redis, redis_prefix: str
) -> None:
    """The leave is written to the group by one process; the stream on the other stops at its place.

    The watcher's process loses its pub/sub connection right before the leave: whether it hears the
    leave live or finds it in the group's log while catching up, nothing published after reaches it.
    """
    here, there = make_redis_container(report_step_seconds=30), make_redis_container(report_step_seconds=30)
    owner, sharee = uuid.uuid4(), uuid.uuid4()
    async with (
        serve(here) as herald_here,
        serve(there) as herald_there,
        httpx.AsyncClient(base_url=herald_there.base_url, timeout=10) as client,
    ):
        del herald_here
        tokens = there.token_service()

        def auth(user: uuid.UUID, roles: tuple[str, ...] = ()) -> dict[str, str]:
            return {"Authorization": f"Bearer {tokens.issue(user, roles)}"}

        report = await a_report(client, auth, owner)  # each process has its own database here: share where it opens
        await shared(client, auth, owner, report, sharee)
        group = Group(GroupKind.REPORT, report)
        publisher = await resolve(here.publisher)

        def numbered(n: int) -> SSEEvent:
            return SSEEvent(event_type="test.g", category=SSECategory.REPORTS, data={"n": n}, user_id=None, group=group)

        async with StreamReader(client, f"/api/v1/events?watch=report:{report}", headers=auth(sharee)) as watcher:
            await publisher.publish(numbered(0))
            await watcher.wait_until(lambda events: any(e.event == "test.g" for e in events))
            for node, connection in await connections_named(redis_admin, f"{redis_prefix}-pubsub:{os.getpid()}"):
                await redis_admin.client_kill_filter(_id=connection["id"], **({"target_nodes": node} if node else {}))
            await (await resolve(here.memberships)).end(sharee, group)
            await publisher.publish(numbered(1))
            await watcher.wait_until(lambda events: any(e.event == "stream.unwatched" for e in events))
            await publisher.broadcast(
                SSEEvent(event_type="test.fence", category=SSECategory.SYSTEM, data={}, user_id=None)
            )
            await watcher.wait_until(lambda events: events[-1].event == "test.fence")
    kinds = [event.event for event in watcher.events]
    assert [json.loads(e.data)["n"] for e in watcher.of_type("test.g")] == [0], kinds
    assert kinds[kinds.index("stream.unwatched") + 1 :] == ["test.fence"], kinds
