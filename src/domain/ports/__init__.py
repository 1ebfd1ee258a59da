"""Ports: the protocols the domain needs and infrastructure implements."""

from domain.ports.event_bus import EventBusProtocol, EventHandler
from domain.ports.publisher import DeliveryAttempt, SSEPublisherProtocol
from domain.ports.subscriber import EventStream, SSESubscriberProtocol, SubscriberUnavailableError

__all__ = [
    "DeliveryAttempt",
    "EventBusProtocol",
    "EventHandler",
    "EventStream",
    "SSEPublisherProtocol",
    "SSESubscriberProtocol",
    "SubscriberUnavailableError",
]
