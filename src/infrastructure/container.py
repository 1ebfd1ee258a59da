"""The composition root: the only module that names concrete adapters.

Providers that depend on a ``Resource`` return awaitables (dependency-injector's
async mode); call ``await container.init_resources()`` first, then await them.
Tests replace any provider with ``container.<name>.override(...)``.
"""

from dependency_injector import containers, providers

from application.announcements import PublishAnnouncement
from application.reports import LinkRenderer, RequestReport
from domain.registry import REGISTRY
from infrastructure.auth import TokenService
from infrastructure.event_bus import InProcessEventBus
from infrastructure.settings import Settings
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.hub import StreamHub
from infrastructure.wiring import memory_broker, subscribe_mapped_events, supervised_tasks


class Container(containers.DeclarativeContainer):
    """Herald's adapters, chosen from :class:`Settings`."""

    settings = providers.Singleton(Settings.from_env)
    registry = providers.Object(REGISTRY)
    wire_format = providers.Singleton(WireFormat)

    event_bus = providers.Singleton(InProcessEventBus)
    tasks = providers.Resource(supervised_tasks)

    stream_hub = providers.Singleton(
        StreamHub,
        inbox_capacity=settings.provided.sse_queue_size,
        heartbeat_seconds=settings.provided.sse_heartbeat_seconds,
    )
    broker = providers.Resource(
        memory_broker,
        hub=stream_hub,
        wire_format=wire_format,
        retention=settings.provided.sse_retention,
        max_retained_users=settings.provided.sse_max_retained_users,
    )
    publisher = providers.Selector(settings.provided.broker_kind, memory=broker)
    subscriber = providers.Selector(settings.provided.broker_kind, memory=broker)

    sse_handler = providers.Singleton(SSEEventHandler, registry=registry, publisher=publisher, wire_format=wire_format)
    event_subscriptions = providers.Resource(
        subscribe_mapped_events, bus=event_bus, handler=sse_handler, registry=registry
    )

    token_service = providers.Singleton(
        TokenService,
        secret=settings.provided.jwt_secret,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
    )

    request_report = providers.Singleton(
        RequestReport,
        bus=event_bus,
        tasks=tasks,
        renderer=providers.Singleton(LinkRenderer),
        step_delay_seconds=settings.provided.report_step_seconds,
    )
    publish_announcement = providers.Singleton(PublishAnnouncement, bus=event_bus)
