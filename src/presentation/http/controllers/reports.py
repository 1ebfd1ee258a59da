"""``/api/v1/reports``: request a report, read the caller's reports with where to stream on from, share one."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.openapi import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from application.principal import Principal
from application.refusals import Refused
from application.report_shares import ListReportShares, ShareReport, UnshareReport
from application.reports import ReadReports, RequestReport
from domain.model import Report
from infrastructure.container import Container
from presentation.http.auth import authenticated, provide_principal
from presentation.http.from_container import from_container
from presentation.http.page_cursor import BadCursorError, decode_cursor, encode_cursor
from presentation.http.refusals import refuse

#: Reports in a page of the list when the client does not say, and the most it may ask for.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a report request."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\Z")]
    """One line of text: no control characters."""


class ReportAccepted(msgspec.Struct):
    """The report was accepted; its events arrive on the owner's stream."""

    report_id: UUID
    event_ids: Annotated[
        list[UUID],
        msgspec.Meta(
            description="The `event_id` of each stream event this request recorded (its `report.requested`): "
            "once the stream has delivered them, it reflects the request (read-your-writes)."
        ),
    ]


class ReportView(msgspec.Struct):
    """A report as its owner, and whoever it is shared with, sees it."""

    report_id: UUID
    title: str
    status: Literal["requested", "in_progress", "completed", "failed"]
    percent: Annotated[int, msgspec.Meta(ge=0, le=100)]
    step: str | None
    download_url: str | None
    failure: str | None
    version: int
    """Every ``report.*`` event carries the version it made: apply only events newer than this."""
    requested_at: datetime
    updated_at: datetime


class ReportList(msgspec.Struct):
    """A page of the caller's reports, newest first, and the stream position that continues them without a gap."""

    position: str | None
    """Open ``/api/v1/events`` with this as ``Last-Event-ID`` (or ``?last_event_id=``); null: resume is off.
    Of several pages, stream on from the first page's position."""
    reports: list[ReportView]
    next: str | None
    """Pass as ``?cursor=`` for the following page (older reports); null on the last page."""


class ReportSnapshot(msgspec.Struct):
    """One report, and the stream position that continues it without a gap."""

    position: str | None
    report: ReportView


class ShareRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a share: who may read and watch the report from now on."""

    user_id: UUID


class ReportShare(msgspec.Struct):
    """The report is shared with the user."""

    report_id: UUID
    user_id: UUID


class ReportShares(msgspec.Struct):
    """The users a report is shared with, the longest shared first."""

    report_id: UUID
    user_ids: list[UUID]


def _view(report: Report) -> ReportView:
    return ReportView(
        report_id=report.report_id,
        title=report.title,
        status=report.status.value,
        percent=report.percent,
        step=report.step,
        download_url=report.download_url,
        failure=report.failure,
        version=report.version,
        requested_at=report.requested_at,
        updated_at=report.updated_at,
    )


class ReportsController(Controller):
    """Reports of the authenticated user."""

    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [authenticated]
    dependencies = {
        "principal": Provide(provide_principal, sync_to_thread=False),
        "request_report": from_container(Container.request_report),
        "read_reports": from_container(Container.read_reports),
        "share_report": from_container(Container.share_report),
        "unshare_report": from_container(Container.unshare_report),
        "list_report_shares": from_container(Container.list_report_shares),
    }

    @post("/", status_code=202, summary="Request a report")
    async def request_report(
        self,
        data: JSONBody[ReportRequest],
        principal: NamedDependency[Principal],
        request_report: NamedDependency[RequestReport],
    ) -> ReportAccepted:
        """Answer at once; ``report.*`` events follow on the caller's stream. 429 with ``Retry-After`` when the
        caller requests too fast, or already has as many unfinished reports as allowed."""
        accepted = await request_report(principal.user_id, data.title.strip() or data.title)
        if isinstance(accepted, Refused):
            refuse(accepted)
        return ReportAccepted(report_id=accepted.value, event_ids=list(accepted.event_ids))

    @get(
        "/",
        summary="The caller's reports, a page at a time, and where to stream on from",
        cache=False,
        raises=[NotFoundException],
    )
    async def list_reports(
        self,
        principal: NamedDependency[Principal],
        read_reports: NamedDependency[ReadReports],
        limit: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="reports in the page")] = (
            DEFAULT_PAGE_SIZE
        ),
        cursor: Annotated[
            str | None, QueryParameter(min_length=1, max_length=128, description="the `next` of the previous page")
        ] = None,
    ) -> ReportList:
        """Load this, then open the stream from ``position``: every later change arrives, none is missed."""
        try:
            after = decode_cursor(cursor) if cursor is not None else None
        except BadCursorError:  # well-formed text for all the document can say: no page has that name
            raise NotFoundException(detail="no such page: cursor is not one this service gave") from None
        snapshot = await read_reports.page(principal.user_id, limit=limit, after=after, groups=principal.groups)
        return ReportList(
            position=snapshot.position,
            reports=[_view(report) for report in snapshot.reports],
            next=encode_cursor(snapshot.next) if snapshot.next is not None else None,
        )

    @get(
        "/{report_id:uuid}",
        summary="A report of the caller's or shared with them, and where to stream on from",
        cache=False,
    )
    async def get_report(
        self,
        report_id: Annotated[UUID, PathParameter()],
        principal: NamedDependency[Principal],
        read_reports: NamedDependency[ReadReports],
    ) -> ReportSnapshot:
        """404 for a report that is neither the caller's nor shared with them, as for one that does not exist.

        A user it is shared with streams on from ``position`` watching the report (``?watch=report:<id>``).
        """
        snapshot = await read_reports.one(principal.user_id, report_id, groups=principal.groups)
        if snapshot is None:
            raise NotFoundException(detail="no such report")
        return ReportSnapshot(position=snapshot.position, report=_view(snapshot.reports[0]))

    @post(
        "/{report_id:uuid}/shares",
        status_code=201,
        summary="Share a report with a user",
        responses={200: ResponseSpec(ReportShare, description="The report already was shared with the user")},
    )
    async def share_report(
        self,
        report_id: Annotated[UUID, PathParameter()],
        data: JSONBody[ShareRequest],
        principal: NamedDependency[Principal],
        share_report: NamedDependency[ShareReport],
    ) -> Response[ReportShare]:
        """The owner lets the user read the report and watch it (``?watch=report:<id>``).

        201 when the share is new, 200 when the report already was shared with
        the user (a retry is safe). 404 for a report the caller may not see,
        403 for one merely shared with them, 409 for the owner themselves and
        beyond ``HERALD_REPORT_SHARES_MAX`` users.
        """
        shared = await share_report(principal, report_id, data.user_id)
        if isinstance(shared, Refused):
            refuse(shared)
        return Response(ReportShare(report_id=report_id, user_id=data.user_id), status_code=201 if shared else 200)

    @delete("/{report_id:uuid}/shares/{user_id:uuid}", status_code=204, summary="Stop sharing a report with a user")
    async def unshare_report(
        self,
        report_id: Annotated[UUID, PathParameter()],
        user_id: Annotated[UUID, PathParameter()],
        principal: NamedDependency[Principal],
        unshare_report: NamedDependency[UnshareReport],
    ) -> None:
        """The user may no longer read or watch the report; their open streams stop receiving it.

        204 whether or not the report was shared with the user (a retry is safe); refused as a share is.
        """
        refused = await unshare_report(principal, report_id, user_id)
        if refused is not None:
            refuse(refused)

    @get("/{report_id:uuid}/shares", summary="Who a report is shared with", cache=False)
    async def list_report_shares(
        self,
        report_id: Annotated[UUID, PathParameter()],
        principal: NamedDependency[Principal],
        list_report_shares: NamedDependency[ListReportShares],
    ) -> ReportShares:
        """For the owner only (403 for a user it is shared with, 404 for anyone else)."""
        users = await list_report_shares(principal, report_id)
        if isinstance(users, Refused):
            refuse(users)
        return ReportShares(report_id=report_id, user_ids=list(users))
