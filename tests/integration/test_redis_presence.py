"""Presence on Redis, single node and Cluster: the API's presence tests, and presence across processes."""

from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from infrastructure.container import Container
from tests.api.test_presence import (
    Auth,
    served,
    test_a_non_member_learns_nothing_and_a_tenant_sees_its_own,
    test_a_reconnect_within_the_grace_is_neither_a_leave_nor_a_join,
    test_watchers_see_each_other_come_once_and_go_after_the_grace,
)

__all__ = [
    "test_a_non_member_learns_nothing_and_a_tenant_sees_its_own",
    "test_a_reconnect_within_the_grace_is_neither_a_leave_nor_a_join",
    "test_watchers_see_each_other_come_once_and_go_after_the_grace",
]


@pytest.fixture
async def api(make_redis_container: Callable[..., Container]) -> AsyncIterator[tuple[httpx.AsyncClient, Auth]]:
    async with served(make_redis_container) as api:
        yield api
