"""The SSE event handler: registry lookup, transform, publish — and never a failed use case."""

import logging
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

import attrs
import structlog

from domain.events import DomainEvent
from domain.ids import utc_now
from domain.ports import DeliveryAttempt, SSEPublisherProtocol
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import Audience, Broadcast, SSEEvent
from infrastructure.sse.wire_format import WireFormat

if TYPE_CHECKING:  # tracing is imported only when it is on
    from infrastructure.tracing.tracing import Carrier, Tracing

logger = logging.getLogger(__name__)


class AudienceError(TypeError):
    """An audience extractor returned something that names no recipient."""


@attrs.frozen
class Delivery:
    """An SSE event and who receives it, before it is published.

    ``audience`` is None for an event addressed to its group alone (``event.group``).
    """

    event: SSEEvent
    audience: Audience | None

    def addressed(self) -> list[SSEEvent]:
        """The SSE events to publish: one for a user and its group, or the group, or everyone; one per user of a set."""
        audience = self.audience
        if isinstance(audience, Broadcast):
            return [attrs.evolve(self.event, user_id=None)]
        if audience is None or isinstance(audience, UUID):
            return [self.event]
        return [attrs.evolve(self.event, user_id=user) for user in sorted(audience)]


class SSEEventHandler:
    """Turns mapped domain events into SSE events and publishes them.

    One instance serves the whole application. It is fail-open: an extractor
    or publisher error is logged with the domain event's name and the error
    type and then dropped, because a live notification must never undo the
    use case that raised it. Unmapped events are ignored silently.
    """

    def __init__(
        self,
        registry: EventRegistry,
        publisher: SSEPublisherProtocol,
        wire_format: WireFormat,
        tracing: "Tracing | None" = None,
    ) -> None:
        self._mappings = registry.as_mapping()
        self._tracing = tracing
        self._publisher = publisher
        self._wire_format = wire_format
        #: SSE events published, and those that failed, by SSE event type (read by the metrics).
        self.published: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    async def deliver(
        self,
        events: Sequence[DomainEvent],
        attempt: DeliveryAttempt,
        log_contexts: Sequence[Mapping[str, Any]] = (),
        committed: Sequence[datetime] = (),
        traces: "Sequence[Carrier | None]" = (),
    ) -> list[DomainEvent]:
        """Publish the SSE events of ``events`` now, in order, or raise (the outbox relay's path).

        Returns the events that can never be delivered (an extractor fails on
        them): they are logged and counted here, and the caller must not retry
        them. ``log_contexts`` (one per event) are the log fields each was
        raised with, such as the id of the request that committed it; ``committed`` (one per event) when
        each one's outbox row committed, carried with the event to time its way to the users' sockets;
        ``traces`` (one per event, or none) the trace each was committed in.
        """
        outgoing: list[SSEEvent] = []
        logged: list[tuple[DomainEvent, Delivery, Mapping[str, Any]]] = []
        undeliverable: list[DomainEvent] = []
        contexts = log_contexts or [{}] * len(events)
        commits: Sequence[datetime | None] = committed or [None] * len(events)
        traced: list[tuple[Carrier, str, UUID, list[UUID]]] = []
        for event, context, committed_at, carrier in zip(
            events, contexts, commits, traces or [None] * len(events), strict=True
        ):
            try:
                deliveries = [
                    self.transform(mapping, event, committed_at) for mapping in self._mappings.get(type(event), ())
                ]
            except Exception as error:
                undeliverable.append(event)
                for mapping in self._mappings.get(type(event), ()):
                    self.failed[mapping.sse_event_type] += 1
                with structlog.contextvars.bound_contextvars(**context):
                    logger.exception(
                        "%s %s cannot become an SSE event (%s); it is set aside",
                        type(event).__name__,
                        event.event_id,
                        type(error).__name__,
                        extra={"domain_event": type(event).__name__, "error": type(error).__name__},
                    )
                continue
            for delivery in deliveries:
                outgoing.extend(delivery.addressed())
                logged.append((event, delivery, context))
            if carrier is not None and deliveries:
                sse_ids = [delivery.event.event_id for delivery in deliveries]
                traced.append((carrier, type(event).__name__, event.event_id, sse_ids))
        if self._tracing is not None and traced:
            with self._tracing.publishing(traced):
                await self._publisher.publish_now(outgoing, attempt)
        else:
            await self._publisher.publish_now(outgoing, attempt)
        for event, delivery, context in logged:
            self.published[delivery.event.event_type] += 1
            with structlog.contextvars.bound_contextvars(**context):
                _log_published(event, delivery)
        return undeliverable

    async def handle(self, event: DomainEvent) -> None:
        """Publish every SSE event mapped from ``event``; never raises.

        It is published after its change committed (or with none): its delivery latency starts now.
        """
        published_at = utc_now()
        for mapping in self._mappings.get(type(event), ()):
            delivery: Delivery | None = None
            try:
                delivery = self.transform(mapping, event, published_at)
                await self._publish(delivery)
            except Exception as error:
                self.failed[mapping.sse_event_type] += 1
                fields = {"event_type": mapping.sse_event_type, "domain_event": type(event).__name__}
                if delivery is not None:
                    fields["event_id"] = str(delivery.event.event_id)
                logger.exception(
                    "SSE publication of %s as %s failed (%s); the use case goes on",
                    type(event).__name__,
                    mapping.sse_event_type,
                    type(error).__name__,
                    extra={**fields, "error": type(error).__name__},
                )
                continue
            self.published[mapping.sse_event_type] += 1
            _log_published(event, delivery)

    def deliveries(self, event: DomainEvent) -> list[Delivery]:
        """The SSE events of ``event`` and their audiences, as the registry makes them (raises as :meth:`transform`)."""
        return [self.transform(mapping, event) for mapping in self._mappings.get(type(event), ())]

    def transform(
        self, mapping: DomainToSSEMapping, event: DomainEvent, committed_at: datetime | None = None
    ) -> Delivery:
        """Build the SSE event for ``mapping``; raises when an extractor fails."""
        extractor = mapping.user_id_extractor
        audience = _checked_audience(extractor(event)) if extractor is not None else None
        group = mapping.group_extractor(event) if mapping.group_extractor is not None else None
        if group is not None and not (audience is None or isinstance(audience, UUID)):
            # The registry allows only a user field beside a group; a hand-made extractor may still misbehave.
            raise AudienceError(f"beside a group, the audience must be one user, got {type(audience).__name__}")
        if mapping.payload_extractor is None:
            data = self._wire_format.default_payload(event)
        else:
            data = self._wire_format.json_ready(mapping.payload_extractor(event))
        sse_event = SSEEvent(
            event_type=mapping.sse_event_type,
            category=mapping.category,
            data=data,
            user_id=audience if isinstance(audience, UUID) else None,
            group=group,
            # Derived from the domain event, so delivering it again yields the same SSE event, byte for byte:
            # what lets a broker recognise a repeat.
            event_id=mapping.sse_event_id(event),
            occurred_at=event.occurred_at,
            committed_at=committed_at,
        )
        return Delivery(event=sse_event, audience=audience)

    async def _publish(self, delivery: Delivery) -> None:
        if self._tracing is None:
            await self._send(delivery)
            return
        event = delivery.event
        attributes = {"herald.event_type": event.event_type, "herald.event_id": str(event.event_id)}
        with self._tracing.publishing_one(attributes):
            await self._send(delivery)

    async def _send(self, delivery: Delivery) -> None:
        audience = delivery.audience
        if isinstance(audience, Broadcast):
            await self._publisher.broadcast(delivery.event)
        elif audience is None or isinstance(audience, UUID):
            await self._publisher.publish(delivery.event)
        else:
            await self._publisher.publish_to_users(delivery.event, audience)


def _log_published(event: DomainEvent, delivery: Delivery) -> None:
    if not logger.isEnabledFor(logging.DEBUG):
        return
    audience = _describe(delivery)
    logger.debug(
        "published %s as %s to %s (SSE event %s)",
        type(event).__name__,
        delivery.event.event_type,
        audience,
        delivery.event.event_id,
        extra={
            "event_type": delivery.event.event_type,
            "domain_event": type(event).__name__,
            "event_id": str(delivery.event.event_id),
            "audience": audience,
        },
    )


def _checked_audience(audience: object) -> Audience:
    if isinstance(audience, (UUID, Broadcast)):
        return audience
    if isinstance(audience, Collection) and not isinstance(audience, (str, bytes)):
        users = frozenset(audience)
        if all(isinstance(user, UUID) for user in users):
            return users
    msg = f"audience must be a UUID, a collection of UUIDs or BROADCAST, got {type(audience).__name__}"
    raise AudienceError(msg)


def _describe(delivery: Delivery) -> str:
    audience, group = delivery.audience, delivery.event.group
    if isinstance(audience, Broadcast):
        return "everyone"
    users = f"user {audience}" if isinstance(audience, UUID) else f"{len(audience)} users" if audience else ""
    groups = f"group {group}" if group is not None else ""
    return " and ".join(part for part in (users, groups) if part)
