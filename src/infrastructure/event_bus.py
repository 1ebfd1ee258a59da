"""In-process event bus: runs every handler of an event concurrently, fail-open."""

import asyncio
import logging
from collections import defaultdict
from typing import Any

from domain.events import DomainEvent
from domain.ports.event_bus import E, EventHandler

logger = logging.getLogger(__name__)


class InProcessEventBus:
    """Dispatches each domain event to the handlers of its exact class.

    A handler's exception is logged and swallowed: one broken subscriber never
    stops the others, and never fails the use case that raised the event.
    """

    def __init__(self) -> None:
        self._handlers: defaultdict[type[DomainEvent], list[EventHandler[Any]]] = defaultdict(list)

    def subscribe(self, event_class: type[E], handler: EventHandler[E]) -> None:
        if handler not in self._handlers[event_class]:
            self._handlers[event_class].append(handler)

    async def publish(self, event: DomainEvent) -> None:
        handlers = self._handlers.get(type(event))
        if not handlers:
            return
        if len(handlers) == 1:
            await self._run(handlers[0], event)
            return
        await asyncio.gather(*(self._run(handler, event) for handler in handlers))

    @staticmethod
    async def _run(handler: EventHandler[Any], event: DomainEvent) -> None:
        try:
            await handler(event)
        except Exception as error:
            logger.exception(
                "event handler %s failed on %s (%s)",
                getattr(handler, "__qualname__", repr(handler)),
                type(event).__name__,
                type(error).__name__,
            )
