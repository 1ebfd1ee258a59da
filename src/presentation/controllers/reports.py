"""``POST /api/v1/reports``: request a report generated in the background."""

from typing import Annotated
from uuid import UUID

import msgspec
from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from application.principal import Principal
from application.reports import RequestReport
from presentation.auth import authenticated, provide_principal


class ReportRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Body of a report request."""

    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*\Z")]
    """One line of text: no control characters."""


class ReportAccepted(msgspec.Struct):
    """The report was accepted; its events arrive on the owner's stream."""

    report_id: UUID


class ReportsController(Controller):
    """Reports of the authenticated user."""

    path = "/api/v1/reports"
    tags = ["reports"]
    guards = [authenticated]
    dependencies = {"principal": Provide(provide_principal, sync_to_thread=False)}

    @post("/", status_code=202, summary="Request a report")
    async def request_report(
        self,
        data: JSONBody[ReportRequest],
        principal: NamedDependency[Principal],
        request_report: NamedDependency[RequestReport],
    ) -> ReportAccepted:
        """Answer at once; ``report.*`` events follow on the caller's stream."""
        report_id = await request_report(principal.user_id, data.title.strip() or data.title)
        return ReportAccepted(report_id=report_id)
