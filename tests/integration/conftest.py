"""Real Redis: the machine's shared server with a key prefix per test, or a private one."""

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio as aredis

from infrastructure.container import Container
from tests.conftest import TEST_SECRET, fast_settings
from tests.integration.helpers import is_cluster
from tests.support.processes import HeraldProcess, PrivateRedis, herald_process, private_redis


@pytest.fixture(params=[pytest.param(kind, marks=pytest.mark.needs("redis-server")) for kind in ("single", "cluster")])
def redis_url(request: pytest.FixtureRequest) -> str:
    """Each Redis test runs twice: on the session's single Redis and on its Redis Cluster."""
    fixture = "shared_redis_url" if request.param == "single" else "redis_cluster_url"
    return str(request.getfixturevalue(fixture))


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of this test's own; its keys are deleted afterwards (the server is shared by the session)."""
    prefix = f"herald-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.RedisCluster.from_url(redis_url) if is_cluster(redis_url) else redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)  # a cluster client splits it by slot
    client.close()


@pytest.fixture
async def redis_admin(redis_url: str) -> AsyncIterator[aredis.Redis]:
    """A client for inspecting the test's Redis (a cluster client on the cluster)."""
    if is_cluster(redis_url):
        cluster = aredis.RedisCluster.from_url(redis_url)
        await cluster.initialize()  # the slot map, so nodes can be named
        client: aredis.Redis = cluster  # type: ignore[assignment]
    else:
        client = aredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def make_redis_container(redis_url: str, redis_prefix: str) -> Callable[..., Container]:
    """A container in Redis mode on the session's server with this test's prefix."""

    def make(**overrides: Any) -> Container:
        values: dict[str, Any] = {"redis_url": redis_url, "redis_prefix": redis_prefix}
        values.update(overrides)
        container = Container()
        container.settings.override(fast_settings(**values))
        return container

    return make


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    """A redis-server for this test alone, persistent like a production one, for stopping and restarting."""
    with private_redis(tmp_path, persistent=True) as server:
        yield server


@pytest.fixture
def process_env(redis_url: str, redis_prefix: str) -> dict[str, str]:
    """The environment of a ``herald run`` process on the test's Redis, accepting the tests' tokens."""
    return {
        "HERALD_REDIS_URL": redis_url,
        "HERALD_REDIS_PREFIX": redis_prefix,
        "HERALD_JWT_SECRET": TEST_SECRET,
        "HERALD_REPORT_STEP_SECONDS": "0.05",
    }


@pytest.fixture
def two_processes(process_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[HeraldProcess, ...]]:
    """Two ``herald run`` processes sharing one Redis (and a JWT secret), as behind a load balancer."""
    with herald_process(process_env, tmp_path / "a.log") as a, herald_process(process_env, tmp_path / "b.log") as b:
        yield a, b
