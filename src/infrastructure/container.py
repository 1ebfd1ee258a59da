"""The composition root: with the sub-container it includes (the Redis adapters', ``redis``), the only
place that names concrete adapters.

Resources start lazily: :func:`start` resolves what the application needs,
which initialises only the broker ``HERALD_REDIS_URL`` selects
(``init_resources()`` would start every resource, Redis ones included).
:meth:`Container.shutdown_resources` then closes exactly what was started.
Tests replace any provider with ``container.<name>.override(...)``.
"""

import inspect
from datetime import timedelta
from typing import Any, TypeVar, cast

from dependency_injector import containers, providers

from application.access import Authenticate, RevokeSession
from application.announcements import PublishAnnouncement
from application.diagnostics import DiagnoseEvent
from application.presence import ReadPresence, TenantAccess
from application.report_shares import ListReportShares, ReportWatchAccess, ShareReport, UnshareReport
from application.reports import GenerateReport, LinkRenderer, ReadReports, RequestReport, ResumeStalledReports
from application.streams import IssueStreamCookie, IssueTicket, OpenStream
from domain.registry import REGISTRY
from domain.sse import ANNOUNCED_PRESENCE, GroupKind
from infrastructure.asyncapi import asyncapi_json
from infrastructure.auth import TokenService
from infrastructure.auth.credentials import AccessCredentials
from infrastructure.auth.resources import (
    keys_of,
    open_identity_provider,
    open_memory_revocations,
    open_redis_revocations,
)
from infrastructure.auth.sessions import CredentialWatch
from infrastructure.auth.tickets import MemoryTicketStore, RedisTicketStore
from infrastructure.brokers.memory import InMemoryBroker
from infrastructure.brokers.redis.providers import RedisProviders
from infrastructure.clock import SystemClock
from infrastructure.diagnostics.providers import DiagnosticsProviders
from infrastructure.event_bus import InProcessEventBus
from infrastructure.metrics import metrics_registry
from infrastructure.persistence.file_claim import claimed
from infrastructure.persistence.outbox import Outbox
from infrastructure.persistence.relay import OutboxRelay
from infrastructure.persistence.resources import open_database, run_outbox_relay, run_report_recovery
from infrastructure.persistence.unit_of_work import SqlUnitsOfWork
from infrastructure.presence import MemoryPresenceStore, PresenceTracker, RedisPresenceStore
from infrastructure.presence.tracker import run_presence
from infrastructure.settings import Settings
from infrastructure.sse.framing import encode_retry
from infrastructure.sse.handler import SSEEventHandler
from infrastructure.sse.subscriptions import subscribe_mapped_events
from infrastructure.sse.wire_format import WireFormat
from infrastructure.streams.admission import StreamLimits
from infrastructure.streams.hub import StreamHub, run_stream_hub
from infrastructure.streams.memberships import GroupLeaves
from infrastructure.streams.rate import PerUserRate
from infrastructure.tasks import open_task_supervisor
from infrastructure.tracing.setup import open_tracing

T = TypeVar("T")


class Container(containers.DeclarativeContainer):
    """Herald's adapters, chosen from :class:`Settings`."""

    settings = providers.Singleton(Settings.from_env)
    registry = providers.Object(REGISTRY)
    wire_format = providers.Singleton(WireFormat)
    clock = providers.Singleton(SystemClock)

    # None unless the OpenTelemetry variables turn tracing on (infrastructure/tracing/setup.py).
    tracing = providers.Resource(open_tracing)

    event_bus = providers.Singleton(InProcessEventBus)
    tasks = providers.Resource(open_task_supervisor)

    stream_hub = providers.Singleton(
        StreamHub,
        inbox_capacity=settings.provided.sse_queue_size,
        heartbeat_seconds=settings.provided.sse_heartbeat_seconds,
    )
    stream_hub_lifetime = providers.Resource(run_stream_hub, hub=stream_hub)

    # Embedded broker: publisher and subscriber in one object.
    memory_broker = providers.Singleton(
        InMemoryBroker,
        hub=stream_hub,
        wire_format=wire_format,
        retention=settings.provided.sse_retention,
        max_retained_users=settings.provided.sse_max_retained_users,
        tracing=tracing,
    )

    # Redis adapters (brokers/redis/providers.py): started only when the broker selection asks for them.
    redis = providers.Container(
        RedisProviders, settings=settings, wire_format=wire_format, hub=stream_hub, tracing=tracing
    )

    publisher = providers.Selector(settings.provided.broker_kind, memory=memory_broker, redis=redis.publisher)
    subscriber = providers.Selector(settings.provided.broker_kind, memory=memory_broker, redis=redis.subscriber)

    sse_handler = providers.Singleton(
        SSEEventHandler, registry=registry, publisher=publisher, wire_format=wire_format, tracing=tracing
    )
    event_subscriptions = providers.Resource(
        subscribe_mapped_events, bus=event_bus, handler=sse_handler, registry=registry
    )

    stream_admission = providers.Singleton(
        StreamLimits,
        hub=stream_hub,
        max_streams=settings.provided.sse_max_streams,
        max_streams_per_user=settings.provided.sse_max_streams_per_user,
        opens_per_minute=settings.provided.sse_opens_per_minute,
    )

    # Browser credentials and session revocation: per process, or shared through Redis.
    ticket_store = providers.Selector(
        settings.provided.broker_kind,
        memory=providers.Singleton(MemoryTicketStore, clock=clock, ttl_seconds=settings.provided.sse_ticket_seconds),
        redis=providers.Singleton(
            RedisTicketStore,
            client=redis.client,
            keys=redis.keys,
            wire_format=wire_format,
            ttl_seconds=settings.provided.sse_ticket_seconds,
            timeout_seconds=settings.provided.redis_timeout_seconds,
        ),
    )
    # State: one database (the reports, the outbox, and revocations when there is no Redis).
    # This process's hold on a SQLite file (None for other databases), for as long as the container runs.
    database_claim = providers.Resource(claimed, url=settings.provided.database_url)
    database = providers.Resource(
        open_database,
        url=settings.provided.database_url,
        pool_size=settings.provided.database_pool_size,
        claim=database_claim,
        tracing=tracing,
    )
    ticket_rate = providers.Singleton(PerUserRate, per_minute=settings.provided.sse_tickets_per_minute)
    session_revocations = providers.Selector(
        settings.provided.broker_kind,
        memory=providers.Resource(open_memory_revocations, database=database),
        redis=providers.Resource(
            open_redis_revocations,
            client=redis.client,
            keys=redis.keys,
            subscriber=redis.subscriber,
            wire_format=wire_format,
            timeout_seconds=settings.provided.redis_timeout_seconds,
        ),
    )
    stream_lifetimes = providers.Singleton(CredentialWatch, revocations=session_revocations)

    token_service = providers.Singleton(
        TokenService,
        secret=settings.provided.jwt_secret,
        issuer=settings.provided.jwt_issuer,
        audience=settings.provided.jwt_audience,
        leeway_seconds=settings.provided.jwt_leeway_seconds,
    )
    identity_provider = providers.Resource(open_identity_provider, settings=settings)
    credentials = providers.Singleton(AccessCredentials, own=token_service, provider=identity_provider)

    # Durable events: the outbox in the database, and the relay that empties it.
    outbox = providers.Singleton(Outbox, registry=registry, wire_format=wire_format)
    units_of_work = providers.Singleton(
        SqlUnitsOfWork, database=database, box=outbox, bus=event_bus, clock=clock, tracing=tracing
    )
    outbox_relay = providers.Singleton(OutboxRelay, database=database, box=outbox, handler=sse_handler, clock=clock)
    outbox_relay_lifetime = providers.Resource(run_outbox_relay, relay=outbox_relay)

    report_renderer = providers.Singleton(LinkRenderer)
    generate_report = providers.Singleton(
        GenerateReport,
        units=units_of_work,
        renderer=report_renderer,
        clock=clock,
        step_delay_seconds=settings.provided.report_step_seconds,
        lease_seconds=settings.provided.report_lease_seconds,
    )
    report_rate = providers.Singleton(PerUserRate, per_minute=settings.provided.reports_per_minute)
    request_report = providers.Singleton(
        RequestReport,
        units=units_of_work,
        generate=generate_report,
        tasks=tasks,
        clock=clock,
        rate=report_rate,
        max_unfinished=settings.provided.reports_unfinished_per_user,
        registry=registry,
    )
    resume_stalled_reports = providers.Singleton(
        ResumeStalledReports, units=units_of_work, generate=generate_report, tasks=tasks, clock=clock
    )
    report_recovery = providers.Resource(
        run_report_recovery,
        resume=resume_stalled_reports,
        every_seconds=providers.Callable(lambda lease: lease / 2, settings.provided.report_lease_seconds),
    )
    read_reports = providers.Singleton(ReadReports, units=units_of_work, subscriber=subscriber)
    memberships = providers.Singleton(GroupLeaves, publisher=publisher)
    share_report = providers.Singleton(
        ShareReport, units=units_of_work, clock=clock, max_shares=settings.provided.report_shares_max
    )
    unshare_report = providers.Singleton(UnshareReport, units=units_of_work, memberships=memberships)
    list_report_shares = providers.Singleton(
        ListReportShares, units=units_of_work, max_shares=settings.provided.report_shares_max
    )
    report_watch_access = providers.Singleton(ReportWatchAccess, units=units_of_work)
    publish_announcement = providers.Singleton(PublishAnnouncement, units=units_of_work, clock=clock, registry=registry)

    # Presence: who holds streams in which group, in this process's memory or shared through Redis.
    presence_store = providers.Selector(
        settings.provided.broker_kind,
        memory=providers.Singleton(MemoryPresenceStore),
        redis=providers.Singleton(
            RedisPresenceStore,
            client=redis.client,
            keys=redis.keys,
            timeout_seconds=settings.provided.redis_timeout_seconds,
        ),
    )
    presence = providers.Singleton(
        PresenceTracker,
        store=presence_store,
        bus=event_bus,
        announced=providers.Object(ANNOUNCED_PRESENCE),
        grace_seconds=settings.provided.presence_grace_seconds,
        timeout_seconds=settings.provided.presence_timeout_seconds,
    )
    presence_lifetime = providers.Resource(run_presence, tracker=presence)
    # Who may see a group's presence: whoever may watch it, and a tenant's own members.
    read_presence = providers.Singleton(
        ReadPresence,
        presence=presence,
        access=providers.Dict(
            {GroupKind.REPORT: report_watch_access, GroupKind.TENANT: providers.Singleton(TenantAccess)}
        ),
    )

    # What /metrics and /health show: counts the components keep (the Redis adapters' only with Redis).
    outbox_backlog = outbox_relay.provided.stats
    provider_keys = providers.Callable(keys_of, identity_provider)
    metrics = providers.Singleton(
        metrics_registry,
        hub=stream_hub,
        handler=sse_handler,
        publisher=providers.Selector(
            settings.provided.broker_kind, memory=providers.Object(None), redis=redis.publisher.provided.stats
        ),
        subscriber=providers.Selector(
            settings.provided.broker_kind, memory=providers.Object(None), redis=redis.subscriber.provided.channels
        ),
        outbox=outbox_backlog,
    )

    # Delivery diagnostics (diagnostics/providers.py): what happened to one event, from what the parts keep.
    diagnostics = providers.Container(
        DiagnosticsProviders,
        settings=settings,
        hub=stream_hub,
        wire_format=wire_format,
        memory_broker=memory_broker,
        redis_client=redis.client,
        redis_keys=redis.keys,
        database=database,
        outbox=outbox,
        handler=sse_handler,
    )
    diagnose_event = providers.Singleton(
        DiagnoseEvent, outbox=diagnostics.outbox_entries, logs=diagnostics.broker_logs, deliveries=diagnostics.records
    )

    # The stream's edge.
    broker_kind = settings.provided.broker_kind
    secure_cookies = settings.provided.is_production
    stream_preamble = providers.Singleton(encode_retry, settings.provided.sse_retry_ms)
    asyncapi_document = providers.Callable(asyncapi_json, registry, server_url=settings.provided.server_url)
    authenticate = providers.Singleton(Authenticate, credentials=credentials, revocations=session_revocations)
    open_stream = providers.Singleton(
        OpenStream,
        credentials=credentials,
        tickets=ticket_store,
        revocations=session_revocations,
        admission=stream_admission,
        subscriber=subscriber,
        lifetimes=stream_lifetimes,
        clock=clock,
        # The kinds of group a client may watch, each with the use case that says who may see one.
        watch_access=providers.Dict({GroupKind.REPORT: report_watch_access}),
        max_watches=settings.provided.sse_max_watches,
        presence=presence,
        opens_at_once=settings.provided.sse_opens_at_once,
    )
    issue_ticket = providers.Singleton(IssueTicket, tickets=ticket_store, rate=ticket_rate)
    issue_stream_cookie = providers.Singleton(IssueStreamCookie, credentials=credentials, clock=clock)
    revoke_session = providers.Singleton(
        RevokeSession,
        revocations=session_revocations,
        clock=clock,
        lasts=providers.Callable(timedelta, seconds=settings.provided.session_revocation_seconds),
        leeway=providers.Callable(timedelta, seconds=settings.provided.jwt_leeway_seconds),
    )


async def resolve(provider: "providers.Provider[T]") -> T:
    """Call a provider, awaiting it when it depends on an async resource."""
    value: Any = provider()
    if inspect.isawaitable(value):
        value = await value
    return cast("T", value)


async def start(container: Container) -> None:
    """Start what the application needs: tasks, the selected broker, the handler's subscriptions."""
    needed = (
        container.tracing,
        container.tasks,
        container.stream_hub_lifetime,
        container.subscriber,
        container.publisher,
        container.event_subscriptions,
        container.database,
        container.outbox_relay_lifetime,
        container.presence_lifetime,
        container.diagnostics.records,  # on Redis, this process's deliveries are shared from the start
        container.report_recovery,
        container.stream_lifetimes,
        container.credentials,  # the identity provider's key source, when there is one (no request made yet)
    )
    for provider in needed:
        await resolve(provider)


async def stop(container: Container) -> None:
    """Stop the background work first (it writes to the database and the broker), then close every
    resource that was started, in reverse dependency order."""
    # Report generation first: what it commits meanwhile is still relayed by this process.
    for work in (container.report_recovery, container.tasks, container.outbox_relay_lifetime):
        if work.initialized:
            await cast("Any", work.shutdown())
    await cast("Any", container.shutdown_resources())
