"""Port through which use cases raise domain events."""

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, runtime_checkable

from domain.events.base import DomainEvent

E = TypeVar("E", bound=DomainEvent)

EventHandler = Callable[[E], Awaitable[None]]


@runtime_checkable
class EventBusProtocol(Protocol):
    """Dispatches domain events to the handlers subscribed to their class."""

    def subscribe(self, event_class: type[E], handler: EventHandler[E]) -> None:
        """Call ``handler`` for every published event of exactly ``event_class``."""

    async def publish(self, event: DomainEvent) -> None:
        """Run every handler of the event's class; never raises a handler's error."""
