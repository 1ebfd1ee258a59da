"""The transactional outbox: durable events are rows committed with the state change that raised them.

A unit of work writes them in its own transaction (:meth:`Outbox.append`),
so a committed change always has its events, and a rolled-back one has none.
The relay (:class:`~infrastructure.persistence.relay.OutboxRelay`) then
delivers them through the SSE handler and marks them published.

Rows carry a partition derived from who receives the event (a user's events
share one), so the relays of several processes can work side by side while
each user's events still leave in the order they were committed.
"""

import asyncio
import contextlib
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
import structlog
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from domain.events import DomainEvent
from domain.registry import EventRegistry
from infrastructure.persistence.tables import outbox
from infrastructure.sse.wire_format import WireFormat

#: Partitions of the outbox: the most relays that can work at once.
OUTBOX_PARTITIONS = 16
_INSERT = insert(outbox)


class Outbox:
    """What goes into the outbox, how a row turns back into its event, and the relay's wake-up call."""

    def __init__(self, registry: EventRegistry, wire_format: WireFormat) -> None:
        self._registry = registry
        self._wire_format = wire_format
        classes = {cls.__name__: cls for cls in registry.domain_event_classes}
        if len(classes) != len(registry.domain_event_classes):
            raise ValueError("two mapped domain event classes share a name; the outbox stores events by name")
        self._classes = classes
        self._pending = asyncio.Event()

    def stores(self, event: DomainEvent) -> bool:
        """True for events the outbox delivers: mapped by the registry, and not ephemeral."""
        return self._registry.is_durable(type(event))

    async def append(
        self,
        connection: AsyncConnection,
        events: Sequence[DomainEvent],
        *,
        now: datetime,
        trace: Mapping[str, str] | None = None,
    ) -> None:
        """Add ``events`` to the transaction of ``connection``, in order, with the trace they were committed in."""
        if not events:
            return
        context = structlog.contextvars.get_contextvars()
        log_context = orjson.dumps(context).decode() if context else None
        trace_context = orjson.dumps(trace).decode() if trace else None
        rows: list[dict[str, Any]] = [
            {
                "event_id": event.event_id,
                "event_type": type(event).__name__,
                "payload": self._wire_format.dumps(event).decode(),
                "partition": self._partition(event),
                "recorded_at": now,
                "log_context": log_context,
                "trace_context": trace_context,
            }
            for event in events
        ]
        await connection.execute(_INSERT, rows[0] if len(rows) == 1 else rows)  # a lone row is no executemany

    def load(self, event_type: str, payload: str) -> DomainEvent:
        """The event a row holds; raises when its class is no longer mapped or its fields changed."""
        cls = self._classes.get(event_type)
        if cls is None:
            raise LookupError(f"{event_type} is not a mapped domain event (any more)")
        return self._wire_format.loads(payload, cls)

    @staticmethod
    def log_context(raw: str | None) -> dict[str, Any]:
        """The log fields a row was committed with."""
        return orjson.loads(raw) if raw else {}

    @staticmethod
    def trace_context(raw: str | None) -> dict[str, str] | None:
        """The trace a row was committed in; None for a row committed without tracing (or an unreadable one:
        a trace is never a reason not to deliver)."""
        try:
            context = orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            return None
        return context if isinstance(context, dict) else None

    def committed(self) -> None:
        """Events were committed here: the relay need not wait for its next look."""
        self._pending.set()

    async def wait_for_commit(self, at_most_seconds: float) -> None:
        """Until :meth:`committed` is called, or ``at_most_seconds`` pass."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._pending.wait(), at_most_seconds)
        self._pending.clear()

    def _partition(self, event: DomainEvent) -> int:
        # One recipient: that user's partition; a group alone: the group's. Broadcasts and sets: partition 0.
        mapping = self._registry.mappings_for(type(event))[0]
        try:
            if mapping.user_id_extractor is None and mapping.group_extractor is not None:
                return zlib.crc32(str(mapping.group_extractor(event)).encode()) % OUTBOX_PARTITIONS
            audience: Any = mapping.user_id_extractor(event) if mapping.user_id_extractor is not None else None
        except Exception:  # the relay meets the same error, and reports the event as undeliverable
            return 0
        return audience.int % OUTBOX_PARTITIONS if isinstance(audience, UUID) else 0
