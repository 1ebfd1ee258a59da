"""Start-up wiring driven by the registry, so adding a mapping needs no wiring code."""

import logging
from collections.abc import AsyncIterator

from domain.events import DomainEvent
from domain.ports import EventBusProtocol
from domain.registry import EventRegistry
from infrastructure.brokers.memory import InMemoryBroker
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


async def supervised_tasks() -> AsyncIterator[TaskSupervisor]:
    """Background tasks for the application's lifetime; cancelled on shutdown."""
    supervisor = TaskSupervisor()
    yield supervisor
    await supervisor.aclose()


async def memory_broker(
    hub: StreamHub, wire_format: WireFormat, *, retention: int, max_retained_users: int
) -> AsyncIterator[InMemoryBroker]:
    """The embedded broker; its streams are ended on shutdown."""
    broker = InMemoryBroker(hub, wire_format, retention=retention, max_retained_users=max_retained_users)
    yield broker
    await broker.aclose()
