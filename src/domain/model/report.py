"""A report and the transitions of its generation, each raising the event that tells its owner."""

import enum
from datetime import datetime
from uuid import UUID

import attrs

from domain.events.reports import ReportCompleted, ReportFailed, ReportProgressed, ReportRequested
from domain.ids import new_event_id


class ReportStatus(enum.Enum):
    """Where a report's generation is."""

    REQUESTED = "requested"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True when nothing will change the report any more."""
        return self in (ReportStatus.COMPLETED, ReportStatus.FAILED)


class TransitionError(ValueError):
    """The report cannot make this change from its current status (it is already finished, say)."""


@attrs.frozen(kw_only=True)
class Report:
    """One user's report.

    ``version`` counts the report's changes: each transition returns the
    report one version on, with the event that carries that version, so a
    client holding a snapshot can tell which events it already reflects.
    """

    report_id: UUID
    owner_id: UUID
    title: str
    status: ReportStatus
    percent: int = attrs.field(validator=[attrs.validators.ge(0), attrs.validators.le(100)])
    step: str | None
    steps_done: int
    download_url: str | None
    failure: str | None
    version: int
    requested_at: datetime
    updated_at: datetime

    @classmethod
    def request(cls, owner_id: UUID, title: str, *, now: datetime) -> tuple["Report", ReportRequested]:
        """A new report, queued for generation, and the event that says so."""
        report = cls(
            report_id=new_event_id(),
            owner_id=owner_id,
            title=title,
            status=ReportStatus.REQUESTED,
            percent=0,
            step=None,
            steps_done=0,
            download_url=None,
            failure=None,
            version=1,
            requested_at=now,
            updated_at=now,
        )
        event = ReportRequested(report_id=report.report_id, owner_id=owner_id, version=1, title=title, occurred_at=now)
        return report, event

    def progress(self, step: str, percent: int, *, now: datetime) -> tuple["Report", ReportProgressed]:
        """One more generation step is done."""
        report = self._next(now, status=ReportStatus.IN_PROGRESS, step=step, percent=percent)
        report = attrs.evolve(report, steps_done=self.steps_done + 1)
        event = ReportProgressed(
            report_id=self.report_id, owner_id=self.owner_id, version=report.version, percent=percent, step=step
        )
        return report, attrs.evolve(event, occurred_at=now)

    def complete(self, download_url: str, *, now: datetime) -> tuple["Report", ReportCompleted]:
        """The report is ready."""
        report = self._next(now, status=ReportStatus.COMPLETED, percent=100, download_url=download_url)
        event = ReportCompleted(
            report_id=self.report_id,
            owner_id=self.owner_id,
            version=report.version,
            download_url=download_url,
            occurred_at=now,
        )
        return report, event

    def fail(self, reason: str, *, now: datetime) -> tuple["Report", ReportFailed]:
        """Generation stopped; ``reason`` is for the owner to read."""
        report = self._next(now, status=ReportStatus.FAILED, failure=reason)
        event = ReportFailed(
            report_id=self.report_id, owner_id=self.owner_id, version=report.version, reason=reason, occurred_at=now
        )
        return report, event

    def _next(self, now: datetime, **changes: object) -> "Report":
        if self.status.is_final:
            msg = f"report {self.report_id} is {self.status.value}; it cannot change any more"
            raise TransitionError(msg)
        return attrs.evolve(self, version=self.version + 1, updated_at=now, **changes)  # type: ignore[arg-type]
