"""The Redis adapters' providers: the composition root includes them as its ``redis`` sub-container.

Three clients (commands, the publisher's, pub/sub), each opened at start and
closed at shutdown, and the publisher and subscriber on them. Nothing here
starts unless the root's broker selection asks for it.
"""

from typing import TYPE_CHECKING

from dependency_injector import containers, providers

from infrastructure.brokers.redis.keys import RedisKeys
from infrastructure.brokers.redis.resources import (
    open_redis_client,
    open_redis_publisher,
    open_redis_subscriber,
    probe_redis_cluster,
)
from infrastructure.settings import Settings
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Tracing


class RedisProviders(containers.DeclarativeContainer):
    """One client for commands, one for the publisher, one connection for pub/sub; the publisher and subscriber."""

    settings = providers.Dependency(instance_of=Settings)
    wire_format = providers.Dependency(instance_of=WireFormat)
    hub = providers.Dependency(instance_of=StreamHub)
    tracing: "providers.Dependency[Tracing | None]" = providers.Dependency()  # None when tracing is off

    keys = providers.Singleton(RedisKeys, prefix=settings.provided.redis_prefix)
    # Asked once, at start, for the three clients below.
    is_cluster = providers.Resource(
        probe_redis_cluster, url=settings.provided.redis_url, mode=settings.provided.redis_cluster
    )
    client = providers.Resource(
        open_redis_client,
        url=settings.provided.redis_url,
        retries=3,
        name=settings.provided.redis_prefix,
        is_cluster=is_cluster,
        tracing=tracing,
    )
    # The publisher retries by itself, looking first for what a lost answer had written: no client retries.
    publish_client = providers.Resource(
        open_redis_client,
        url=settings.provided.redis_url,
        retries=0,
        name=providers.Callable("{}-publish".format, settings.provided.redis_prefix),
        is_cluster=is_cluster,
    )
    pubsub_client = providers.Resource(
        open_redis_client,
        url=settings.provided.redis_url,
        retries=0,
        name=providers.Callable("{}-pubsub".format, settings.provided.redis_prefix),
        is_cluster=is_cluster,
    )
    publisher = providers.Resource(
        open_redis_publisher,
        client=publish_client,
        keys=keys,
        wire_format=wire_format,
        retention=settings.provided.sse_retention,
        ttl_seconds=settings.provided.redis_retention_ttl_seconds,
        retry_seconds=settings.provided.redis_publish_retry_seconds,
        buffer_size=settings.provided.redis_publish_buffer,
        wait_seconds=settings.provided.redis_timeout_seconds,
        tracing=tracing,
    )
    subscriber = providers.Resource(
        open_redis_subscriber,
        pubsub_client=pubsub_client,
        client=client,
        keys=keys,
        hub=hub,
        wire_format=wire_format,
        retention=settings.provided.sse_retention,
        subscribe_seconds=settings.provided.redis_timeout_seconds,
        tracing=tracing,
    )
