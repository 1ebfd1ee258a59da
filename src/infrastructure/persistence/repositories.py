"""The sample domain's repositories on SQLAlchemy Core: rows to attrs objects and back, nothing more."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Row, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from application.ports.unit_of_work import ConcurrentUpdateError, Lease, ReportAccess, ReportKey
from domain.model import Announcement, Report, ReportStatus
from infrastructure.persistence.tables import announcements, report_shares, reports

_REPORT_FIELDS = (
    "report_id",
    "owner_id",
    "title",
    "percent",
    "step",
    "steps_done",
    "download_url",
    "failure",
    "version",
    "requested_at",
    "updated_at",
)


def _report_row(report: Report) -> dict[str, Any]:
    row = {name: getattr(report, name) for name in _REPORT_FIELDS}
    row["status"] = report.status.value
    return row


def _report(row: Row[Any]) -> Report:
    values = row._mapping
    return Report(status=ReportStatus(values["status"]), **{name: values[name] for name in _REPORT_FIELDS})


#: First key of PostgreSQL's two-key advisory locks (a space apart from single-key ones) taken per report owner.
_OWNER_LOCK_SPACE = 0x5245_504F


def _lease_columns(report: Report, lease: Lease) -> dict[str, Any]:
    # A finished report is leased to nobody: nothing is left to generate.
    if report.status.is_final:
        return {"lease_holder": None, "lease_until": None}
    return {"lease_holder": lease.holder, "lease_until": lease.until}


class SqlRepository:
    """A repository on one connection, inside its unit of work's transaction.

    ``locks_rows``: the database runs transactions side by side (PostgreSQL), so a
    repository that counts before it adds takes its turn first.
    """

    def __init__(self, connection: AsyncConnection, *, locks_rows: bool) -> None:
        self._connection = connection
        self._locks_rows = locks_rows


class SqlReports(SqlRepository):
    """``ReportRepository`` on SQL."""

    async def get(self, report_id: UUID) -> Report | None:
        row = (await self._connection.execute(select(reports).where(reports.c.report_id == report_id))).first()
        return _report(row) if row is not None else None

    async def access(self, report_id: UUID, user_id: UUID) -> ReportAccess | None:
        share = and_(report_shares.c.report_id == reports.c.report_id, report_shares.c.user_id == user_id)
        query = (
            select(reports.c.owner_id, report_shares.c.user_id.label("sharee_id"))
            .select_from(reports.outerjoin(report_shares, share))
            .where(reports.c.report_id == report_id)
        )
        row = (await self._connection.execute(query)).first()
        if row is None:
            return None
        if row.owner_id == user_id:
            return ReportAccess.OWNER
        return ReportAccess.SHAREE if row.sharee_id is not None else None

    async def of_owner(self, owner_id: UUID, *, limit: int, after: ReportKey | None = None) -> Sequence[Report]:
        query = (
            select(reports)
            .where(reports.c.owner_id == owner_id)
            .order_by(reports.c.requested_at.desc(), reports.c.report_id.desc())
            .limit(limit)
        )
        if after is not None:  # the keyset: strictly older, or as old with a smaller id
            query = query.where(
                or_(
                    reports.c.requested_at < after.requested_at,
                    and_(reports.c.requested_at == after.requested_at, reports.c.report_id < after.report_id),
                )
            )
        return [_report(row) for row in await self._connection.execute(query)]

    async def count_unfinished(self, owner_id: UUID, *, up_to: int) -> int:
        if self._locks_rows:  # SQLite runs one transaction at a time; PostgreSQL needs the owner's turn
            owner_key = int.from_bytes(owner_id.bytes[-4:], "big", signed=True)  # random in v4 and v7 ids
            await self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:space, :owner)"), {"space": _OWNER_LOCK_SPACE, "owner": owner_key}
            )
        unfinished = (
            select(reports.c.report_id)
            # Only unfinished reports are leased (_lease_columns): the condition of their own index.
            .where(reports.c.owner_id == owner_id, reports.c.lease_holder.is_not(None))
            .limit(up_to)
            .subquery()
        )
        return int((await self._connection.execute(select(func.count()).select_from(unfinished))).scalar_one())

    async def add(self, report: Report, *, lease: Lease) -> None:
        await self._connection.execute(insert(reports).values(**_report_row(report), **_lease_columns(report, lease)))

    async def update(self, report: Report, *, lease: Lease) -> None:
        statement = (
            update(reports)
            .where(
                reports.c.report_id == report.report_id,
                reports.c.version == report.version - 1,
                reports.c.lease_holder == lease.holder,
            )
            .values(**_report_row(report), **_lease_columns(report, lease))
        )
        if (await self._connection.execute(statement)).rowcount != 1:
            msg = f"report {report.report_id} changed since version {report.version - 1}, or its lease was taken over"
            raise ConcurrentUpdateError(msg)

    async def claim_stalled(self, *, now: datetime, lease: Lease, limit: int) -> Sequence[tuple[Report, int]]:
        stalled = (
            select(reports.c.report_id)
            .where(reports.c.lease_holder.is_not(None), reports.c.lease_until < now)
            .order_by(reports.c.lease_until)
            .limit(limit)
        )
        if self._locks_rows:  # two processes claiming at once take different reports
            stalled = stalled.with_for_update(skip_locked=True)
        statement = (
            update(reports)
            .where(reports.c.report_id.in_(stalled.scalar_subquery()))
            .values(lease_holder=lease.holder, lease_until=lease.until, claims=reports.c.claims + 1)
            .returning(*reports.c)
        )
        return [(_report(row), int(row.claims)) for row in await self._connection.execute(statement)]


class SqlReportShares(SqlRepository):
    """``ReportShareRepository`` on SQL."""

    async def count(self, report_id: UUID) -> int:
        if self._locks_rows:  # the report's turn; FOR NO KEY UPDATE lets a share's foreign key check pass
            turn = select(reports.c.report_id).where(reports.c.report_id == report_id).with_for_update(key_share=True)
            await self._connection.execute(turn)
        query = select(func.count()).select_from(report_shares).where(report_shares.c.report_id == report_id)
        return int((await self._connection.execute(query)).scalar_one())

    async def add(self, report_id: UUID, user_id: UUID, *, now: datetime) -> bool:
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        statement = (
            dialect.insert(report_shares)
            .values(report_id=report_id, user_id=user_id, shared_at=now)
            .on_conflict_do_nothing(index_elements=[report_shares.c.report_id, report_shares.c.user_id])
        )
        return bool((await self._connection.execute(statement)).rowcount == 1)

    async def remove(self, report_id: UUID, user_id: UUID) -> bool:
        statement = delete(report_shares).where(
            report_shares.c.report_id == report_id, report_shares.c.user_id == user_id
        )
        return bool((await self._connection.execute(statement)).rowcount == 1)

    async def users(self, report_id: UUID, *, limit: int) -> Sequence[UUID]:
        query = (
            select(report_shares.c.user_id)
            .where(report_shares.c.report_id == report_id)
            .order_by(report_shares.c.shared_at, report_shares.c.user_id)
            .limit(limit)
        )
        return list((await self._connection.execute(query)).scalars())


class SqlAnnouncements(SqlRepository):
    """``AnnouncementRepository`` on SQL."""

    async def add(self, announcement: Announcement) -> None:
        await self._connection.execute(
            insert(announcements).values(
                announcement_id=announcement.announcement_id,
                author_id=announcement.author_id,
                message=announcement.message,
                published_at=announcement.published_at,
                tenant=announcement.tenant,
            )
        )


#: The unit of work's repositories, by the attribute the ``UnitOfWork`` port declares for each:
#: a new aggregate's repository is one line here.
SQL_REPOSITORIES: dict[str, type[SqlRepository]] = {
    "reports": SqlReports,
    "shares": SqlReportShares,
    "announcements": SqlAnnouncements,
}
