"""What delivery diagnostics read: the outbox's row of an event, its audience, its place in the broker's
logs, and what each process recently did with it.

Each is a record of something that already happened, read after the fact; none of them changes anything.
"""

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

import attrs


@attrs.frozen
class OutboxEntry:
    """The outbox's row of a durable event: when it committed, how often the relay tried it, when it left."""

    domain_event: str
    committed_at: datetime
    attempts: int
    first_tried_at: datetime | None
    published_at: datetime | None
    failure: str | None
    """Why it was set aside as undeliverable (then ``published_at`` is when)."""


@attrs.frozen
class Addressed:
    """One SSE event the domain event became, and who it is for (what the registry says)."""

    event_id: UUID
    event_type: str
    category: str
    users: tuple[UUID, ...]
    """The users it is addressed to (none: a group alone, or everyone)."""
    group: str | None
    broadcast: bool


@attrs.frozen
class LogPlace:
    """Where one SSE event stands in one of the broker's logs."""

    log: str
    """The audience whose log it is: ``user:<id>``, ``group:<kind>:<id>``, ``broadcast``."""
    position: str | None
    """Its position in that log while the log retains it; None when it is not (or no longer) there."""
    note: str
    """What that means: retained, dropped by retention (and from where the log starts now), never written."""


@attrs.frozen
class ProcessDelivery:
    """What one process did with an event within the recent window."""

    process: str
    event_type: str
    category: str
    first_at: datetime
    """When the process fanned it out to its streams."""
    last_at: datetime
    """When it last wrote it to a stream's socket (or fanned it out, if it wrote none)."""
    queued: int
    """Streams it was queued on."""
    written: int
    """Of those, the streams whose socket it was written to."""
    skipped: Mapping[str, int]
    """Open streams of the audience that did not get it, by reason (filtered by category, slow client, ended)."""
    examples: Sequence[tuple[str, str]]
    """A few of those streams: (reason, user id)."""


class OutboxEntries(Protocol):
    """The outbox's rows, looked up by event (published rows are kept a while for this)."""

    async def find(self, event_id: UUID) -> tuple[OutboxEntry, Sequence[Addressed]] | None:
        """The event's row and its SSE events with their audiences; None when the outbox has no such row.

        Raises :class:`~application.ports.StorageUnavailableError` when the database cannot be read.
        """
        ...


class BrokerLogs(Protocol):
    """The broker's logs (its retention for resume)."""

    async def places(self, event: Addressed, around: datetime) -> Sequence[LogPlace]:
        """Where ``event`` stands in each log it was written to; ``around`` is about when it was published."""
        ...


class DeliveryRecords(Protocol):
    """What processes did with recent events: this process's own memory, or every process's, shared."""

    @property
    def window_seconds(self) -> float:
        """How far back deliveries are remembered."""
        ...

    async def of(self, event_id: UUID) -> Sequence[ProcessDelivery]:
        """Each process's delivery of ``event_id`` within the window (none: no process fanned it out)."""
        ...
