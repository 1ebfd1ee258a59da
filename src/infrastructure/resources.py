"""Resources and start-up wiring used by the container; each yields an adapter and closes it."""

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import httpx
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError

from application.reports import ResumeStalledReports
from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from domain.registry import EventRegistry
from infrastructure.auth.oidc import OidcTokenVerifier
from infrastructure.auth.provider_keys import ProviderKeys
from infrastructure.auth.sessions import MemorySessionRevocations, RedisSessionRevocations, SessionRevoked
from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.publisher import RedisPublisher
from infrastructure.brokers.redis.subscriber import RedisSubscriber
from infrastructure.persistence.database import Database
from infrastructure.persistence.relay import OutboxRelay
from infrastructure.persistence.revocations import StoredRevocations
from infrastructure.presence import PresenceTracker
from infrastructure.redis_errors import REDIS_FAILURE
from infrastructure.settings import Settings
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.tasks import TaskSupervisor

logger = logging.getLogger(__name__)


def subscribe_mapped_events(
    bus: EventBusProtocol, handler: SSEEventHandler, registry: EventRegistry
) -> frozenset[type[DomainEvent]]:
    """Subscribe ``handler.handle`` to every domain event class the registry maps."""
    for event_class in registry.domain_event_classes:
        bus.subscribe(event_class, handler.handle)
    stats = registry.statistics()
    logger.info(
        "SSE handler subscribed to %d domain event classes (%d mappings)", stats.domain_event_classes, stats.mappings
    )
    return registry.domain_event_classes


async def open_task_supervisor() -> AsyncIterator[TaskSupervisor]:
    """Background tasks for the application's lifetime; cancelled on shutdown."""
    supervisor = TaskSupervisor()
    yield supervisor
    await supervisor.aclose()


async def open_database(url: str, pool_size: int, claim: Path | None) -> AsyncIterator[Database]:
    """The database, its schema brought up to date before anything uses it.

    ``claim`` is the SQLite file this process holds: the database opens only after it was claimed.
    """
    database = Database(url, pool_size=pool_size)
    try:
        await database.migrate()
        yield database
    finally:
        await database.aclose()


async def open_memory_revocations(database: Database) -> AsyncIterator[MemorySessionRevocations]:
    """Revocations without Redis: checked in memory, kept in the database so that a restart keeps them."""
    revocations = MemorySessionRevocations(StoredRevocations(database))
    await revocations.recall()
    yield revocations


#: How long a loop of background work may take to finish its round when the service stops.
_FINISH_SECONDS = 5.0


async def _finish(task: "asyncio.Task[None]") -> None:
    """Wait for ``task`` to end by itself; cancel it if it takes longer than its round should."""
    _, late = await asyncio.wait({task}, timeout=_FINISH_SECONDS)
    if late:
        task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def run_outbox_relay(relay: OutboxRelay) -> AsyncIterator[OutboxRelay]:
    """The relay, at work for the application's lifetime; stopped between passes, before the database closes."""
    task = asyncio.get_running_loop().create_task(relay.run(), name="herald-outbox-relay")
    yield relay
    relay.stop()
    await _finish(task)


async def run_report_recovery(resume: ResumeStalledReports, every_seconds: float) -> AsyncIterator[None]:
    """Claim reports whose process stopped, every ``every_seconds``, for the application's lifetime."""
    stopping = asyncio.Event()

    async def loop() -> None:
        while not stopping.is_set():
            try:
                await resume()
            except Exception as error:  # the database is away: the reports wait for the next round
                logger.warning("stalled reports could not be claimed (%s)", type(error).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), every_seconds)

    task = asyncio.get_running_loop().create_task(loop(), name="herald-report-recovery")
    yield None
    stopping.set()
    await _finish(task)


async def run_presence(tracker: PresenceTracker) -> AsyncIterator[PresenceTracker]:
    """Presence at work for the application's lifetime; on shutdown this process's users are handed over."""
    tracker.start()
    yield tracker
    await tracker.aclose()


async def run_stream_hub(hub: StreamHub) -> AsyncIterator[StreamHub]:
    """The hub for the application's lifetime; on shutdown every stream is ended and the heartbeat stops.

    Its own resource, so the hub closes the same way whichever broker feeds it.
    """
    yield hub
    await hub.aclose()


#: Times a command is sent again when redis-py closed its connection before it was written.
_UNSENT_RETRIES = 2


class WaitingRedisCluster(RedisCluster):
    """A cluster client whose commands wait for a connection when a burst needs more than the pools hold.

    redis-py's cluster client refuses a command (``MaxConnectionsError``) when
    a node's pool is exhausted, where the single-node client's blocking pool
    waits. A few thousand streams opening at once would otherwise fail; here
    they queue, within each request's Redis budget. The limit is shared by all
    nodes and stays below any one node's pool, so no pool can run dry. Commands that the client splits into
    a pipeline (multi-key ``EXISTS``, ``DELETE``) bypass it: Herald's adapters
    send single-key commands only.
    """

    def __init__(self, *args: Any, waiting_limit: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiting = asyncio.Semaphore(waiting_limit)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._waiting:
            for attempt in range(_UNSENT_RETRIES + 1):
                try:
                    return await super().execute_command(*args, **kwargs)
                except (AttributeError, RuntimeError) as error:
                    # While it re-reads the slot map (after a failover, say), redis-py's cluster
                    # client can close a connection that another command is about to write on.
                    # Nothing was sent, so sending again is safe; past that, it is an outage.
                    if attempt == _UNSENT_RETRIES:
                        raise RedisConnectionError(f"a connection closed under the command ({error})") from error
                    await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")


async def open_identity_provider(settings: Settings) -> AsyncIterator[OidcTokenVerifier | None]:
    """The identity provider's token verifier, when one is configured (None: Herald's own HS256 tokens only)."""
    if not settings.has_identity_provider:
        yield None
        return
    # Keys are fetched in a request's path only when one is missing: kept short, and never redirected.
    async with httpx.AsyncClient(timeout=3.0, follow_redirects=False) as client:
        algorithms = frozenset(settings.oidc_algorithms)
        keys = ProviderKeys(
            client,
            issuer=settings.oidc_issuer,
            jwks_url=settings.jwks_url,
            algorithms=algorithms,
            cache_seconds=settings.jwks_cache_seconds,
            refresh_seconds=settings.jwks_refresh_seconds,
            clock_skew_seconds=settings.jwt_leeway_seconds,
            https_only=settings.is_production,
        )
        yield OidcTokenVerifier(
            keys,
            issuer=settings.provider_issuer,
            audiences=settings.provider_audiences,
            algorithms=algorithms,
            leeway_seconds=settings.jwt_leeway_seconds,
            user_claim=settings.oidc_user_claim,
            roles_claim=settings.oidc_roles_claim,
            admin_role=settings.oidc_admin_role,
            tenant_claim=settings.oidc_tenant_claim,
        )


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
    url: str, *, retries: int, name: str, is_cluster: bool = False, max_connections: int = 32
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
) -> AsyncIterator[RedisSubscriber]:
    """The Redis subscriber with its one pub/sub connection; ends every stream on shutdown."""
    subscriber = RedisSubscriber(
        pubsub_client, client, keys, hub, wire_format, retention=retention, subscribe_seconds=subscribe_seconds
    )
    await subscriber.start()
    yield subscriber
    await subscriber.aclose()


async def open_redis_revocations(
    client: Redis, keys: RedisKeys, subscriber: RedisSubscriber, wire_format: WireFormat, *, timeout_seconds: float
) -> AsyncIterator[RedisSessionRevocations]:
    """Revocations shared through Redis; this process hears them on its pub/sub connection."""
    revocations = RedisSessionRevocations(client, keys, wire_format, timeout_seconds=timeout_seconds)
    subscriber.listen(
        revocations.channel, SessionRevoked, revocations.on_control_message, after_reconnect=revocations.resync
    )
    yield revocations
