"""The Redis adapters as the container's resources: each opened at start and closed at shutdown."""

import logging
import os
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, cast

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff

from infrastructure.brokers.redis.cluster import WaitingRedisCluster
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.tracing.instrumentation import trace_redis

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing

logger = logging.getLogger(__name__)


async def probe_redis_cluster(url: str | None, mode: str) -> AsyncIterator[bool]:
    """Whether ``url`` names a node of a Redis Cluster: as configured, or asked of the server.

    A server that cannot be reached at start is taken for a single Redis (the
    service still starts); set ``HERALD_REDIS_CLUSTER`` to start a cluster
    deployment while its nodes are down.
    """
    if url is None or mode != "auto":
        yield mode == "true"
        return
    probe = Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=2.0)
    try:
        info = await probe.info("cluster")
    except REDIS_FAILURE as error:
        reason = type(error).__name__
        logger.warning("could not ask Redis whether it is a cluster (%s); assuming a single Redis", reason)
        info = {}
    finally:
        await probe.aclose()
    yield bool(info.get("cluster_enabled"))


async def open_redis_client(
    url: str,
    *,
    retries: int,
    name: str,
    is_cluster: bool = False,
    max_connections: int = 32,
    tracing: "Tracing | None" = None,
) -> AsyncIterator[Redis]:
    """A Redis client with an explicit retry policy, closed with ``aclose()``.

    The policy is spelled out rather than inherited: redis-py's defaults have
    changed between major versions. ``retries=0`` is for the pub/sub
    connection, whose reconnects Herald drives itself so that it knows when
    to catch streams up, and for the publisher, which retries by itself.
    """
    retry = (
        Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.05), retries=retries)
        if retries
        else Retry(NoBackoff(), retries=0)
    )
    if is_cluster:
        # Commands are routed by slot; pub/sub connections to the nodes are the subscriber's own.
        nodes = WaitingRedisCluster.from_url(
            url,
            # As many commands in flight as three single-node pools hold (a cluster has three
            # primaries or more), and pools far above that: they never refuse.
            waiting_limit=max_connections * 3,
            retry=retry,
            max_connections=max_connections * 8,
            socket_connect_timeout=2.0,
            socket_timeout=5.0,
            socket_keepalive=True,
        )
        try:
            # Read the slot map now: left to the first commands, a burst of them reads it
            # side by side, and redis-py then closes connections that are still in use.
            await nodes.initialize()
            trace_redis(cast("Redis", nodes), tracing)
            yield cast("Redis", nodes)  # the commands Herald uses have the same signatures
        finally:
            await nodes.aclose()
        return
    # A blocking pool makes a burst of stream opens wait for a connection
    # instead of failing with "Too many connections".
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=5.0,
        retry=retry,
        client_name=f"{name}:{os.getpid()}",  # visible in CLIENT LIST
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        socket_keepalive=True,
    )
    client = Redis(connection_pool=pool)
    trace_redis(client, tracing)
    try:
        yield client
    finally:
        await client.aclose()
        await pool.aclose()


async def open_redis_publisher(
    client: Redis,
    keys: RedisKeys,
    wire_format: WireFormat,
    *,
    retention: int,
    ttl_seconds: int,
    retry_seconds: float,
    buffer_size: int,
    wait_seconds: float,
    tracing: "Tracing | None" = None,
) -> AsyncIterator[RedisPublisher]:
    """The Redis publisher; what still waits for Redis at shutdown is logged as dropped."""
    publisher = RedisPublisher(
        client,
        keys,
        wire_format,
        retention=retention,
        ttl_seconds=ttl_seconds,
        retry_seconds=retry_seconds,
        buffer_size=buffer_size,
        wait_seconds=wait_seconds,
        tracing=tracing,
    )
    yield publisher
    await publisher.aclose()


async def open_redis_subscriber(
    pubsub_client: Redis,
    client: Redis,
    keys: RedisKeys,
    hub: StreamHub,
    wire_format: WireFormat,
    *,
    retention: int,
    subscribe_seconds: float,
    tracing: "Tracing | None" = None,
) -> AsyncIterator[RedisSubscriber]:
    """The Redis subscriber with its one pub/sub connection; ends every stream on shutdown."""
    subscriber = RedisSubscriber(
        pubsub_client,
        client,
        keys,
        hub,
        wire_format,
        retention=retention,
        subscribe_seconds=subscribe_seconds,
        tracing=tracing,
    )
    await subscriber.start()
    yield subscriber
    await subscriber.aclose()
