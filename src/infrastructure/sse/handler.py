"""The SSE event handler: registry lookup, transform, publish — and never a failed use case."""

import logging
from collections import Counter
from collections.abc import Collection
from uuid import UUID

import attrs

from domain.events import DomainEvent
from domain.ports import SSEPublisherProtocol
from domain.registry import DomainToSSEMapping, EventRegistry
from domain.sse import Audience, Broadcast, SSEEvent
from infrastructure.sse.wire_format import WireFormat

logger = logging.getLogger(__name__)


class AudienceError(TypeError):
    """An audience extractor returned something that names no recipient."""


@attrs.frozen
class Delivery:
    """An SSE event and who receives it, before it is published."""

    event: SSEEvent
    audience: Audience


class SSEEventHandler:
    """Turns mapped domain events into SSE events and publishes them.

    One instance serves the whole application. It is fail-open: an extractor
    or publisher error is logged with the domain event's name and the error
    type and then dropped, because a live notification must never undo the
    use case that raised it. Unmapped events are ignored silently.
    """

    def __init__(self, registry: EventRegistry, publisher: SSEPublisherProtocol, wire_format: WireFormat) -> None:
        self._mappings = registry.as_mapping()
        self._publisher = publisher
        self._wire_format = wire_format
        #: SSE events published, and those that failed, by SSE event type (read by the metrics).
        self.published: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    async def handle(self, event: DomainEvent) -> None:
        """Publish every SSE event mapped from ``event``; never raises."""
        for mapping in self._mappings.get(type(event), ()):
            fields: dict[str, object] = {"event_type": mapping.sse_event_type, "domain_event": type(event).__name__}
            try:
                delivery = self.transform(mapping, event)
                fields["event_id"] = str(delivery.event.event_id)
                await self._publish(delivery)
            except Exception as error:
                self.failed[mapping.sse_event_type] += 1
                logger.exception(
                    "SSE publication of %s as %s failed (%s); the use case goes on",
                    type(event).__name__,
                    mapping.sse_event_type,
                    type(error).__name__,
                    extra={**fields, "error": type(error).__name__},
                )
                continue
            self.published[mapping.sse_event_type] += 1
            logger.debug(
                "published %s as %s to %s (SSE event %s)",
                type(event).__name__,
                mapping.sse_event_type,
                _describe(delivery.audience),
                delivery.event.event_id,
                extra={**fields, "audience": _describe(delivery.audience)},
            )

    def transform(self, mapping: DomainToSSEMapping, event: DomainEvent) -> Delivery:
        """Build the SSE event for ``mapping``; raises when an extractor fails."""
        audience = _checked_audience(mapping.user_id_extractor(event))
        if mapping.payload_extractor is None:
            data = self._wire_format.default_payload(event)
        else:
            data = self._wire_format.json_ready(mapping.payload_extractor(event))
        sse_event = SSEEvent(
            event_type=mapping.sse_event_type,
            category=mapping.category,
            data=data,
            user_id=audience if isinstance(audience, UUID) else None,
        )
        return Delivery(event=sse_event, audience=audience)

    async def _publish(self, delivery: Delivery) -> None:
        audience = delivery.audience
        if isinstance(audience, Broadcast):
            await self._publisher.broadcast(delivery.event)
        elif isinstance(audience, UUID):
            await self._publisher.publish(delivery.event)
        else:
            await self._publisher.publish_to_users(delivery.event, audience)


def _checked_audience(audience: object) -> Audience:
    if isinstance(audience, (UUID, Broadcast)):
        return audience
    if isinstance(audience, Collection) and not isinstance(audience, (str, bytes)):
        users = frozenset(audience)
        if all(isinstance(user, UUID) for user in users):
            return users
    msg = f"audience must be a UUID, a collection of UUIDs or BROADCAST, got {type(audience).__name__}"
    raise AudienceError(msg)


def _describe(audience: Audience) -> str:
    if isinstance(audience, Broadcast):
        return "everyone"
    if isinstance(audience, UUID):
        return f"user {audience}"
    return f"{len(audience)} users"
