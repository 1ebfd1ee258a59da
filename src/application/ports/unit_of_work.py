"""Ports of persistence: the repositories of the sample domain and the unit of work that commits them.

A use case changes state and raises events inside one unit of work: the
state and the (durable) events commit together or not at all, and nothing
is published before the commit. How the events then reach their streams is
the unit of work's business (the transactional outbox), not the use case's.
"""

import enum
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self
from uuid import UUID

import attrs

from domain.events import DomainEvent
from domain.model import Announcement, Report


class ConcurrentUpdateError(Exception):
    """Another unit of work changed the report first (its version moved on); this one was rolled back."""


class StorageUnavailableError(Exception):
    """The database cannot be reached now; nothing was changed."""


@attrs.frozen
class Lease:
    """Who generates a report, until when: a report whose lease ran out is taken over by another process."""

    holder: str
    until: datetime


@attrs.frozen
class ReportKey:
    """Where a report sits in its owner's list, newest first: a page goes on after its last report's key.

    A report requested later never moves the ones after a key, as an offset would.
    """

    requested_at: datetime
    report_id: UUID

    @classmethod
    def of(cls, report: Report) -> "ReportKey":
        return cls(report.requested_at, report.report_id)


class ReportAccess(enum.Enum):
    """How a user may see a report."""

    OWNER = "owner"
    """It is theirs: they may read it, watch it and say who else may."""
    SHAREE = "sharee"
    """Its owner shared it with them: they may read it and watch it."""


class ReportRepository(Protocol):
    """Reports, read and written inside a unit of work."""

    async def get(self, report_id: UUID) -> Report | None:
        """The report, or None."""
        ...

    async def access(self, report_id: UUID, user_id: UUID) -> ReportAccess | None:
        """How ``user_id`` may see the report; None when not at all, or when there is no such report."""
        ...

    async def of_owner(self, owner_id: UUID, *, limit: int, after: ReportKey | None = None) -> Sequence[Report]:
        """Up to ``limit`` of the owner's reports, newest first, starting after ``after`` (None: the newest)."""
        ...

    async def count_unfinished(self, owner_id: UUID, *, up_to: int) -> int:
        """How many of the owner's reports are not finished, counted up to ``up_to`` at most.

        Where the database runs transactions side by side, it also holds the
        owner's turn until this unit of work ends: two requests of one owner
        never both count the same number and both add a report.
        """
        ...

    async def add(self, report: Report, *, lease: Lease) -> None:
        """Store a new report, with its generator's lease."""

    async def update(self, report: Report, *, lease: Lease) -> None:
        """Store ``report`` over its previous version and extend ``lease``.

        Raises :class:`ConcurrentUpdateError` when the stored version is not the
        one before ``report``'s, or the lease is no longer ``lease.holder``'s
        (another process took the report over): the caller must stop.
        """

    async def claim_stalled(self, *, now: datetime, lease: Lease, limit: int) -> Sequence[tuple[Report, int]]:
        """Unfinished reports whose lease ran out before ``now``, now under ``lease``, each with how often
        it has been claimed so far (this claim included)."""
        ...


class ReportShareRepository(Protocol):
    """The users a report is shared with, beside its owner."""

    async def count(self, report_id: UUID) -> int:
        """How many users the report is shared with.

        Where the database runs transactions side by side, it also holds the
        report's turn until this unit of work ends: two shares of one report
        never both count the same number and both add a user.
        """
        ...

    async def add(self, report_id: UUID, user_id: UUID, *, now: datetime) -> bool:
        """Share the report with ``user_id``; False, and nothing changed, when it already was."""
        ...

    async def remove(self, report_id: UUID, user_id: UUID) -> bool:
        """Stop sharing the report with ``user_id``; False when it was not shared with them."""
        ...

    async def users(self, report_id: UUID, *, limit: int) -> Sequence[UUID]:
        """Up to ``limit`` users the report is shared with, the longest shared first."""
        ...


class AnnouncementRepository(Protocol):
    """Announcements, kept so they can be shown again."""

    async def add(self, announcement: Announcement) -> None:
        """Store a new announcement."""


class UnitOfWork(Protocol):
    """One transaction: ``async with`` it, change state through its repositories, :meth:`record` the
    events, :meth:`commit`. Leaving the block without a commit rolls everything back and publishes nothing."""

    reports: ReportRepository
    shares: ReportShareRepository
    announcements: AnnouncementRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None: ...

    def record(self, *events: DomainEvent) -> None:
        """Events to deliver if, and only if, the commit succeeds."""

    async def commit(self) -> None:
        """Commit the state and the events together; raises :class:`ConcurrentUpdateError` or
        :class:`StorageUnavailableError` (and then nothing is committed or published)."""


#: A new unit of work per use-case call.
UnitOfWorkFactory = Callable[[], UnitOfWork]
