"""Events of the sample domain's report generation."""

from uuid import UUID

import attrs

from domain.events.base import DomainEvent


@attrs.frozen(kw_only=True)
class ReportEvent(DomainEvent):
    """Common fields of every event about one user's report."""

    report_id: UUID
    owner_id: UUID
    version: int
    """The report's version after this change: a client ignores events not newer than what it holds."""


@attrs.frozen(kw_only=True)
class ReportRequested(ReportEvent):
    """A user asked for a report; generation starts in the background."""

    title: str


@attrs.frozen(kw_only=True)
class ReportProgressed(ReportEvent):
    """Generation finished one more step."""

    percent: int = attrs.field(validator=[attrs.validators.ge(0), attrs.validators.le(100)])
    step: str


@attrs.frozen(kw_only=True)
class ReportCompleted(ReportEvent):
    """The report is ready to download."""

    download_url: str


@attrs.frozen(kw_only=True)
class ReportFailed(ReportEvent):
    """Generation stopped with an error the owner should see."""

    reason: str
