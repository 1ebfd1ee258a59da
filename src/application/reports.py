"""Use cases of the sample domain's reports: request one, generate it durably, read them back.

Generation survives the process that started it: each step is its own unit
of work and extends the generator's lease on the report, so a report whose
process stopped is claimed by a running one (:class:`ResumeStalledReports`)
and generated on from the last step it saved, or failed after too many
interruptions. No report stays in progress for ever.
"""

import asyncio
import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import ClassVar
from uuid import UUID

import attrs

from application.ports import BackgroundTasks, Clock, ReportRenderer, UserRate
from application.ports.unit_of_work import (
    ConcurrentUpdateError,
    Lease,
    ReportAccess,
    ReportKey,
    StorageUnavailableError,
    UnitOfWorkFactory,
)
from application.recorded import Recorded
from application.refusals import RefusalKind, Refused, over_rate
from application.report_shares import report_group
from domain.events import ReportEvent
from domain.ids import new_event_id
from domain.model import Report
from domain.ports import SSESubscriberProtocol
from domain.registry import EventRegistry
from domain.sse import Group

logger = logging.getLogger(__name__)

DEFAULT_STEPS = ("collecting data", "aggregating", "rendering")

#: A report interrupted this often is failed rather than claimed again: something in it stops every process.
MAX_CLAIMS = 3

Transition = Callable[[Report, datetime], tuple[Report, ReportEvent]]


class LinkRenderer:
    """Sample renderer: the report is a link; a fork renders a real document here."""

    async def render(self, report_id: UUID, title: str) -> str:
        return f"/reports/{report_id}.pdf"


class GenerateReport:
    """Generate one report step by step, each step saved with its event, under a lease.

    Each step raises a ``ReportProgressed`` event, so the owner's stream shows
    progress; the outcome is ``ReportCompleted`` or ``ReportFailed``. When
    another process took the report over (the lease ran out), this run stops.
    """

    def __init__(
        self,
        units: UnitOfWorkFactory,
        renderer: ReportRenderer,
        clock: Clock,
        *,
        step_delay_seconds: float,
        lease_seconds: float,
        steps: Sequence[str] = DEFAULT_STEPS,
    ) -> None:
        self._units = units
        self._renderer = renderer
        self._clock = clock
        self._step_delay = step_delay_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._steps = tuple(steps)

    def lease(self, holder: str) -> Lease:
        """A lease for ``holder`` from now."""
        return Lease(holder=holder, until=self._clock.now() + self._lease)

    @property
    def seconds_per_report(self) -> int:
        """About how long one report takes (whole seconds, at least one): when one more may be requested."""
        return max(1, math.ceil(self._step_delay * len(self._steps)))

    async def __call__(self, report_id: UUID, holder: str) -> None:
        """Generate on from the last saved step while ``holder`` keeps the lease.

        Only the renderer's own error fails the report (its message is for the
        owner). Anything else stops this run and leaves the lease to lapse: a
        process claims the report again, and fails it after too many claims.
        """
        try:
            report = await self._change(report_id, holder, None)
            if report is None:
                return
            for index in range(report.steps_done, len(self._steps)):
                await asyncio.sleep(self._step_delay)
                step, percent = self._steps[index], (index + 1) * 100 // (len(self._steps) + 1)
                report = await self._change(report_id, holder, _progress(step, percent))
                if report is None:
                    return
            try:
                download_url = await self._renderer.render(report_id, report.title)
            except Exception as error:
                logger.warning("report %s failed: %s", report_id, type(error).__name__)
                await self.give_up(report_id, holder, str(error) or type(error).__name__)
                return
            await self._change(report_id, holder, _complete(download_url))
        except ConcurrentUpdateError:
            logger.info("report %s was taken over by another process; this run stops", report_id)
        except StorageUnavailableError:
            logger.warning("report %s paused: the database is unavailable; it is resumed after its lease", report_id)
        except Exception:
            logger.exception("report %s stopped unexpectedly; it is resumed after its lease", report_id)

    async def give_up(self, report_id: UUID, holder: str, reason: str) -> None:
        """Fail the report with ``reason`` (unless it finished, or another process holds it now)."""
        try:
            await self._change(report_id, holder, _fail(reason))
        except ConcurrentUpdateError:
            logger.info("report %s was taken over before it could be failed", report_id)
        except StorageUnavailableError:
            logger.warning("report %s could not be failed now: the database is unavailable", report_id)

    async def _change(self, report_id: UUID, holder: str, transition: Transition | None) -> Report | None:
        """Apply ``transition`` (None: only read) in a unit of work; None when the report is finished or gone."""
        async with self._units() as uow:
            report = await uow.reports.get(report_id)
            if report is None or report.status.is_final:
                return None
            if transition is None:
                return report
            report, event = transition(report, self._clock.now())
            await uow.reports.update(report, lease=self.lease(holder))
            uow.record(event)
            await uow.commit()
        return report


def _progress(step: str, percent: int) -> Transition:
    return lambda report, now: report.progress(step, percent, now=now)


def _complete(download_url: str) -> Transition:
    return lambda report, now: report.complete(download_url, now=now)


def _fail(reason: str) -> Transition:
    return lambda report, now: report.fail(reason, now=now)


class RequestReport:
    """Accept a report request now (saved, with its ``ReportRequested``), generate it in the background.

    One user cannot grow the database or the generation work without bound:
    requests are limited by a per-user rate, and a user has at most
    ``max_unfinished`` reports waiting or being generated (finished ones do
    not count: they cost storage only, at the rate's pace).
    """

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset({RefusalKind.TOO_MANY})

    def __init__(
        self,
        units: UnitOfWorkFactory,
        generate: GenerateReport,
        tasks: BackgroundTasks,
        clock: Clock,
        *,
        rate: UserRate,
        max_unfinished: int,
        registry: EventRegistry,
    ) -> None:
        self._units = units
        self._registry = registry
        self._generate = generate
        self._tasks = tasks
        self._clock = clock
        self._rate = rate
        self._max_unfinished = max_unfinished

    async def __call__(self, owner_id: UUID, title: str) -> Recorded[UUID] | Refused:
        """Save the report and start its generation; return the report's id and its ``report.requested``'s
        event id, or why not."""
        if too_fast := over_rate(self._rate, owner_id, "too many report requests from this user; slow down"):
            return too_fast
        holder = str(new_event_id())
        async with self._units() as uow:
            if await uow.reports.count_unfinished(owner_id, up_to=self._max_unfinished) >= self._max_unfinished:
                detail = (
                    f"this user already has {self._max_unfinished} unfinished reports, the most allowed; "
                    "request another when one has finished"
                )
                return Refused(RefusalKind.TOO_MANY, detail, self._generate.seconds_per_report)
            report, event = Report.request(owner_id, title, now=self._clock.now())
            await uow.reports.add(report, lease=self._generate.lease(holder))
            uow.record(event)
            await uow.commit()
        self._tasks.spawn(self._generate(report.report_id, holder), name=f"report-{report.report_id}")
        return Recorded.of(report.report_id, [event], self._registry)


class ResumeStalledReports:
    """Claim the reports whose generator stopped (its lease ran out) and generate them on here."""

    def __init__(
        self,
        units: UnitOfWorkFactory,
        generate: GenerateReport,
        tasks: BackgroundTasks,
        clock: Clock,
        *,
        batch: int = 100,
    ) -> None:
        self._units = units
        self._generate = generate
        self._tasks = tasks
        self._clock = clock
        self._batch = batch

    async def __call__(self) -> int:
        """Claim what stalled; return how many reports were claimed."""
        holder = str(new_event_id())
        now = self._clock.now()
        async with self._units() as uow:
            claimed = await uow.reports.claim_stalled(now=now, lease=self._generate.lease(holder), limit=self._batch)
            await uow.commit()
        for report, claims in claimed:
            name = f"report-{report.report_id}"
            if claims > MAX_CLAIMS:
                reason = f"generation was interrupted {claims - 1} times; giving up"
                self._tasks.spawn(self._generate.give_up(report.report_id, holder, reason), name=name)
            else:
                logger.info("report %s stalled; generating it on from step %d", report.report_id, report.steps_done)
                self._tasks.spawn(self._generate(report.report_id, holder), name=name)
        return len(claimed)


@attrs.frozen
class ReportsSnapshot:
    """The caller's reports (one page of them), and the stream position to continue from without a gap.

    The position is read before the reports: every event up to it is
    reflected in them (events are published only after their commit), and a
    later one that is too is recognised by its version. Of several pages,
    the first page's position is the one that continues them all.
    """

    position: str | None
    reports: Sequence[Report]
    next: ReportKey | None = None
    """Where the following page starts; None on the last page."""


class ReadReports:
    """Snapshots of the caller's reports (and of one shared with them), for a client to load before it streams."""

    refuses: ClassVar[frozenset[RefusalKind]] = frozenset()

    def __init__(self, units: UnitOfWorkFactory, subscriber: SSESubscriberProtocol) -> None:
        self._units = units
        self._subscriber = subscriber

    async def page(
        self,
        owner_id: UUID,
        *,
        limit: int,
        after: ReportKey | None = None,
        groups: frozenset[Group] = frozenset(),
    ) -> ReportsSnapshot:
        """Up to ``limit`` reports of ``owner_id``, newest first, after ``after`` (None: from the newest).

        ``groups``: those every stream of the caller is in (its tenant's), so the position fits its stream.
        """
        position = await self._subscriber.position(owner_id, groups)
        async with self._units() as uow:
            reports = await uow.reports.of_owner(owner_id, limit=limit + 1, after=after)
        following = ReportKey.of(reports[limit - 1]) if len(reports) > limit else None
        return ReportsSnapshot(position=position, reports=reports[:limit], next=following)

    async def one(
        self, user_id: UUID, report_id: UUID, *, groups: frozenset[Group] = frozenset()
    ) -> ReportsSnapshot | None:
        """The report, if it is ``user_id``'s or shared with them (any other is as absent as a missing one).

        The position is that of the stream that brings the report's events to
        the caller (in ``groups``, its tenant's): the owner's own, a sharee's
        when it watches the report.
        """
        async with self._units() as uow:
            access = await uow.reports.access(report_id, user_id)
        if access is None:
            return None
        if access is ReportAccess.OWNER:
            position = await self._subscriber.position(user_id, groups)
        else:
            position = await self._subscriber.position(user_id, groups | {report_group(report_id)})
        async with self._units() as uow:
            report = await uow.reports.get(report_id)
            if access is ReportAccess.SHAREE:  # the share may have ended meanwhile
                access = await uow.reports.access(report_id, user_id)
        if report is None or access is None:
            return None
        return ReportsSnapshot(position=position, reports=(report,))
