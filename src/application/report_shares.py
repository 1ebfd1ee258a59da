"""Use cases of sharing a report: its owner lets other users read and watch it, and stops letting them.

A share is what lets a user other than the owner read the report and watch
its group (``?watch=report:<id>``). Only the owner shares, unshares and
lists; to anyone else a report they may not see does not exist.
"""

import logging
from collections.abc import Sequence
from typing import ClassVar
from uuid import UUID

from application.ports import Clock, Memberships
from application.ports.unit_of_work import ReportAccess, UnitOfWork, UnitOfWorkFactory
from application.principal import Principal
from application.refusals import RefusalKind, Refused
from domain.sse import Group, GroupKind

logger = logging.getLogger(__name__)

NO_SUCH_REPORT = Refused(RefusalKind.NOT_FOUND, "no such report")
OWNER_ONLY = Refused(RefusalKind.FORBIDDEN, "only the report's owner says who it is shared with")
NOT_WITH_THE_OWNER = Refused(RefusalKind.CONFLICT, "a report is not shared with its owner: it is theirs")


def report_group(report_id: UUID) -> Group:
    """The group of the report's watchers, ``report:<id>``."""
    return Group(GroupKind.REPORT, str(report_id))


async def _refuse_unless_owner(uow: UnitOfWork, caller: Principal, report_id: UUID) -> Refused | None:
    access = await uow.reports.access(report_id, caller.user_id)
    if access is None:
        return NO_SUCH_REPORT
    return OWNER_ONLY if access is ReportAccess.SHAREE else None


class ShareReport:
    """The owner shares a report with another user, up to ``max_shares`` users per report.

    Sharing again with the same user changes nothing and is no error, so a
    retried request is safe (even when the report has as many shares as allowed).
    """

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset(
        {RefusalKind.INVALID, RefusalKind.FORBIDDEN, RefusalKind.NOT_FOUND, RefusalKind.CONFLICT}
    )

    def __init__(self, units: UnitOfWorkFactory, clock: Clock, *, max_shares: int) -> None:
        self._units = units
        self._clock = clock
        self._max_shares = max_shares

    async def __call__(self, caller: Principal, report_id: UUID, user_id: UUID) -> bool | Refused:
        """True when the report is now shared with ``user_id``, False when it already was; or why not."""
        async with self._units() as uow:
            if refused := await _refuse_unless_owner(uow, caller, report_id):
                return refused
            if user_id == caller.user_id:
                return NOT_WITH_THE_OWNER
            shared = await uow.shares.count(report_id)
            added = await uow.shares.add(report_id, user_id, now=self._clock.now())
            if added and shared >= self._max_shares:  # leaving without a commit takes the share back
                detail = (
                    f"this report is already shared with {self._max_shares} users, the most allowed; "
                    "unshare it with one of them first"
                )
                return Refused(RefusalKind.CONFLICT, detail)
            await uow.commit()
        return added


class UnshareReport:
    """The owner stops sharing a report with a user, whose open streams then stop receiving it at once.

    Unsharing a report that is not shared with the user is no error: the
    result is the same. The user's streams are told to leave the report's
    group after the commit, every time, so a retry also repairs a first
    attempt whose streams were not reached. When they cannot be reached, the
    share is gone all the same: their streams stop receiving the report at
    their next reconnect, when watching it is refused.
    """

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset(
        {RefusalKind.INVALID, RefusalKind.FORBIDDEN, RefusalKind.NOT_FOUND}
    )

    def __init__(self, units: UnitOfWorkFactory, memberships: Memberships) -> None:
        self._units = units
        self._memberships = memberships

    async def __call__(self, caller: Principal, report_id: UUID, user_id: UUID) -> Refused | None:
        async with self._units() as uow:
            if refused := await _refuse_unless_owner(uow, caller, report_id):
                return refused
            if user_id == caller.user_id:
                return NOT_WITH_THE_OWNER
            await uow.shares.remove(report_id, user_id)
            await uow.commit()
        group = report_group(report_id)
        try:
            await self._memberships.end(user_id, group)
        except Exception:
            logger.exception(
                "the share of %s with %s is gone, but their open streams could not be told; "
                "they stop receiving it at their next reconnect",
                group,
                user_id,
            )
        return None


class ListReportShares:
    """The users a report is shared with, for its owner: at most ``max_shares`` of them."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset({RefusalKind.FORBIDDEN, RefusalKind.NOT_FOUND})

    def __init__(self, units: UnitOfWorkFactory, *, max_shares: int) -> None:
        self._units = units
        self._max_shares = max_shares

    async def __call__(self, caller: Principal, report_id: UUID) -> Sequence[UUID] | Refused:
        async with self._units() as uow:
            if refused := await _refuse_unless_owner(uow, caller, report_id):
                return refused
            return await uow.shares.users(report_id, limit=self._max_shares)


class ReportWatchAccess:
    """``WatchAccess`` for reports: the owner and the users it is shared with may watch one.

    A group id that is not a report id as Herald writes it (a UUID, lower
    case, with hyphens) names no report: its events would never come.
    """

    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def may_watch(self, caller: Principal, group: Group) -> bool:
        """Raises ``StorageUnavailableError`` when the database cannot say now."""
        report_id = _report_id(group)
        if report_id is None:
            return False
        async with self._units() as uow:
            return await uow.reports.access(report_id, caller.user_id) is not None


def _report_id(group: Group) -> UUID | None:
    if group.kind is not GroupKind.REPORT:
        return None
    try:
        report_id = UUID(group.id)
    except ValueError:
        return None
    return report_id if str(report_id) == group.id else None
