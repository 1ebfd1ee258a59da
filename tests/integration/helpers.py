"""Helpers shared by the Redis integration tests."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import redis
import redis.asyncio as aredis
from httpx_sse import ServerSentEvent

from infrastructure.auth import TokenService
from infrastructure.container import Container
from tests.conftest import TEST_SECRET


def bearer(
    container: Container, user: uuid.UUID | None = None, roles: tuple[str, ...] = (), *, tenant: str | None = None
) -> dict[str, str]:
    token = container.token_service().issue(user or uuid.uuid4(), roles, tenant=tenant)
    return {"Authorization": f"Bearer {token}"}


#: Tokens the Herald processes accept: they share the tests' secret.
PROCESS_TOKENS = TokenService(TEST_SECRET, issuer="herald", audience="herald")


def process_bearer(user: uuid.UUID, *roles: str) -> dict[str, str]:
    """Authorization headers for a Herald process started by the tests."""
    return {"Authorization": f"Bearer {PROCESS_TOKENS.issue(user, roles)}"}


def data(event: ServerSentEvent) -> dict[str, object]:
    return json.loads(event.data)  # type: ignore[no-any-return]


async def announce(client: httpx.AsyncClient, headers: dict[str, str], message: str) -> None:
    response = await client.post("/api/v1/announcements", json={"message": message}, headers=headers)
    assert response.status_code == 202, response.text


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 10, step: float = 0.05) -> None:
    """Poll ``check`` until it holds; fail with a clear message on timeout."""
    async with asyncio.timeout(timeout):
        while True:
            result = check()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            await asyncio.sleep(step)


def is_cluster(url: str) -> bool:
    """Whether ``url`` names a node of a Redis Cluster."""
    with redis.Redis.from_url(url) as client:
        return bool(client.info("cluster").get("cluster_enabled"))


def nodes_of(admin: aredis.Redis) -> list[Any]:
    """Where to look for connections and subscriptions: every primary of a cluster, or the one server."""
    if isinstance(admin, aredis.RedisCluster):
        return list(admin.get_primaries())
    return [None]


async def connections_named(admin: aredis.Redis, name: str) -> list[tuple[Any, dict[str, Any]]]:
    """(node, CLIENT LIST entry) of every connection called ``name``, on every node."""
    found = []
    for node in nodes_of(admin):
        listed = await (admin.client_list(target_nodes=node) if node is not None else admin.client_list())
        found += [(node, client) for client in listed if client["name"] == name]
    return found


async def shard_subscribers(admin: aredis.Redis, channels: list[bytes]) -> dict[bytes, int]:
    """How many connections are subscribed to each shard channel, asked of the node that owns it."""
    counts: dict[bytes, int] = {}
    for channel in channels:
        if isinstance(admin, aredis.RedisCluster):
            node = admin.get_node_from_key(channel)
            answer = await admin.pubsub_shardnumsub(channel, target_nodes=node)
        else:
            answer = await admin.pubsub_shardnumsub(channel)
        counts.update(dict(answer))
    return counts


async def shard_channels(admin: aredis.Redis, pattern: str) -> set[bytes]:
    """Every shard channel matching ``pattern`` with a subscriber, on every node."""
    found: set[bytes] = set()
    for node in nodes_of(admin):
        names = await (
            admin.pubsub_shardchannels(pattern, target_nodes=node)
            if node is not None
            else admin.pubsub_shardchannels(pattern)
        )
        found.update(names)
    return found
