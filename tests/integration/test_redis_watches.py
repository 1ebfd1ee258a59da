"""Watching groups on Redis, single node and Cluster: the API's watch tests, and an unshare across processes."""

import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from infrastructure.container import Container
from tests.api.test_watches import (
    Auth,
    test_a_watcher_gets_the_whole_report_from_its_snapshot_and_its_owner_each_event_once,
    test_an_unshared_watcher_is_told_and_gets_nothing_more_of_the_report,
)
from tests.support.server import serve

__all__ = [
    "test_a_watcher_gets_the_whole_report_from_its_snapshot_and_its_owner_each_event_once",
    "test_an_unshared_watcher_is_told_and_gets_nothing_more_of_the_report",
]


@pytest.fixture
async def api(make_redis_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    container = make_redis_container(report_step_seconds=0.3, sse_max_watches=3)
    tokens = container.token_service()

    def auth(user: uuid.UUID, roles: tuple[str, ...] = ()) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens.issue(user, roles)}"}

    async with serve(container) as running, httpx.AsyncClient(base_url=running.base_url, timeout=10) as client:
        yield client, auth
