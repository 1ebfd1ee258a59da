"""An in-memory unit of work and repositories: use cases tested without a container or a database.

The same port as the SQL unit of work (``application.ports.UnitOfWork``),
with the same promises a use case relies on: a block left without a commit
changes nothing and publishes nothing; a stale version or a lost lease is a
:class:`ConcurrentUpdateError`; events reach the bus only after the commit.
What it does not imitate is the database's locking between concurrent units.
"""

import copy
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Self
from uuid import UUID

import attrs

from application.ports import (
    ConcurrentUpdateError,
    Lease,
    ReportAccess,
    ReportKey,
    UnitOfWork,
)
from domain.events import DomainEvent
from domain.model import Announcement, Report
from domain.ports import EventBusProtocol


@attrs.define
class StoredReport:
    report: Report
    lease: Lease | None
    claims: int = 0


@attrs.define
class MemoryState:
    """What the repositories hold: a unit of work works on a copy, and its commit puts the copy back."""

    reports: dict[UUID, StoredReport] = attrs.field(factory=dict)
    shares: dict[UUID, dict[UUID, datetime]] = attrs.field(factory=dict)
    announcements: list[Announcement] = attrs.field(factory=list)

    def copy(self) -> "MemoryState":
        """A copy a unit of work may change freely (a new aggregate's field needs no line here)."""
        return copy.deepcopy(self)


class MemoryRepository:
    def __init__(self, state: MemoryState) -> None:
        self._state = state


class MemoryReports(MemoryRepository):
    """``ReportRepository`` in a dict."""

    async def get(self, report_id: UUID) -> Report | None:
        stored = self._state.reports.get(report_id)
        return stored.report if stored else None

    async def access(self, report_id: UUID, user_id: UUID) -> ReportAccess | None:
        stored = self._state.reports.get(report_id)
        if stored is None:
            return None
        if stored.report.owner_id == user_id:
            return ReportAccess.OWNER
        return ReportAccess.SHAREE if user_id in self._state.shares.get(report_id, {}) else None

    async def of_owner(self, owner_id: UUID, *, limit: int, after: ReportKey | None = None) -> Sequence[Report]:
        keys = sorted(
            (ReportKey.of(s.report) for s in self._state.reports.values() if s.report.owner_id == owner_id),
            key=lambda key: (key.requested_at, key.report_id),
            reverse=True,
        )
        if after is not None:
            keys = [key for key in keys if (key.requested_at, key.report_id) < (after.requested_at, after.report_id)]
        return [self._state.reports[key.report_id].report for key in keys[:limit]]

    async def count_unfinished(self, owner_id: UUID, *, up_to: int) -> int:
        unfinished = [s for s in self._state.reports.values() if s.report.owner_id == owner_id and s.lease]
        return min(len(unfinished), up_to)

    async def add(self, report: Report, *, lease: Lease) -> None:
        self._state.reports[report.report_id] = StoredReport(report, None if report.status.is_final else lease)

    async def update(self, report: Report, *, lease: Lease) -> None:
        stored = self._state.reports.get(report.report_id)
        if (
            stored is None
            or stored.report.version != report.version - 1
            or stored.lease is None
            or stored.lease.holder != lease.holder
        ):
            msg = f"report {report.report_id} changed since version {report.version - 1}, or its lease was taken over"
            raise ConcurrentUpdateError(msg)
        stored.report, stored.lease = report, None if report.status.is_final else lease

    async def claim_stalled(self, *, now: datetime, lease: Lease, limit: int) -> Sequence[tuple[Report, int]]:
        stalled = sorted(
            (s for s in self._state.reports.values() if s.lease is not None and s.lease.until < now),
            key=lambda s: s.lease.until if s.lease else now,
        )[:limit]
        for stored in stalled:
            stored.lease, stored.claims = lease, stored.claims + 1
        return [(stored.report, stored.claims) for stored in stalled]


class MemoryReportShares(MemoryRepository):
    """``ReportShareRepository`` in a dict of dicts."""

    async def count(self, report_id: UUID) -> int:
        return len(self._state.shares.get(report_id, {}))

    async def add(self, report_id: UUID, user_id: UUID, *, now: datetime) -> bool:
        users = self._state.shares.setdefault(report_id, {})
        if user_id in users:
            return False
        users[user_id] = now
        return True

    async def remove(self, report_id: UUID, user_id: UUID) -> bool:
        return self._state.shares.get(report_id, {}).pop(user_id, None) is not None

    async def users(self, report_id: UUID, *, limit: int) -> Sequence[UUID]:
        shared = self._state.shares.get(report_id, {})
        return sorted(shared, key=lambda user: (shared[user], user))[:limit]


class MemoryAnnouncements(MemoryRepository):
    """``AnnouncementRepository`` in a list."""

    async def add(self, announcement: Announcement) -> None:
        self._state.announcements.append(announcement)


#: As ``SQL_REPOSITORIES``: the port's attributes, each with its repository.
MEMORY_REPOSITORIES: dict[str, Callable[[MemoryState], MemoryRepository]] = {
    "reports": MemoryReports,
    "shares": MemoryReportShares,
    "announcements": MemoryAnnouncements,
}


class MemoryUnitOfWork(UnitOfWork):
    """``UnitOfWork`` on a copy of the units' state, put back at the commit."""

    def __init__(self, units: "MemoryUnitsOfWork") -> None:
        self._units = units
        self._events: list[DomainEvent] = []
        self._committed = False

    async def __aenter__(self) -> Self:
        self._state = self._units.state.copy()
        for name, repository in MEMORY_REPOSITORIES.items():
            setattr(self, name, repository(self._state))
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._committed:
            for event in self._events:
                self._units.published.append(event)
                if self._units.bus is not None:
                    await self._units.bus.publish(event)

    def record(self, *events: DomainEvent) -> None:
        self._events.extend(events)

    async def commit(self) -> None:
        self._units.state = self._state
        self._committed = True


class MemoryUnitsOfWork:
    """``UnitOfWorkFactory`` over one in-memory state; ``published`` lists every committed event in order."""

    def __init__(self, bus: EventBusProtocol | None = None) -> None:
        self.state = MemoryState()
        self.bus = bus
        self.published: list[DomainEvent] = []

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self)
