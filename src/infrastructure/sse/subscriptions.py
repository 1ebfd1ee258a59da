"""The SSE handler on the event bus: subscribed to every domain event class the registry maps.

This is why a new registry entry needs no wiring of its own.
"""

import logging

from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from domain.registry import EventRegistry
from infrastructure.sse.handler import SSEEventHandler

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
