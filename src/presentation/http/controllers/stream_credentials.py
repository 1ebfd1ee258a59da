"""Credentials for browsers' EventSource, which cannot send an ``Authorization`` header."""

import msgspec
from litestar import Controller, Response, delete, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide

from application.principal import Principal
from application.refusals import Refused
from application.streams import IssueStreamCookie, IssueTicket
from infrastructure.container import Container
from presentation.http.auth import STREAM_COOKIE, authenticated, provide_principal
from presentation.http.from_container import from_container
from presentation.http.refusals import refuse

_PRINCIPAL = {"principal": Provide(provide_principal, sync_to_thread=False)}


class TicketResponse(msgspec.Struct):
    """A single-use credential for ``GET /api/v1/events?ticket=...``."""

    ticket: str
    expires_in: int


class StreamCredentialsController(Controller):
    """A single-use ticket, or the HttpOnly stream cookie; both obtained with the bearer token."""

    path = "/api/v1/events"
    tags = ["events"]
    dependencies = {
        "issue_ticket": from_container(Container.issue_ticket),
        "issue_stream_cookie": from_container(Container.issue_stream_cookie),
        "secure_cookies": from_container(Container.secure_cookies),
    }

    @post(
        "/tickets",
        guards=[authenticated],
        dependencies=_PRINCIPAL,
        status_code=201,
        summary="Issue a single-use stream ticket for EventSource",
    )
    async def issue_ticket(
        self, principal: NamedDependency[Principal], issue_ticket: NamedDependency[IssueTicket]
    ) -> TicketResponse:
        """A ticket opens one stream within a few seconds; a long-lived token never goes into a URL."""
        issued = await issue_ticket(principal)
        if isinstance(issued, Refused):
            refuse(issued)
        return TicketResponse(ticket=issued.ticket, expires_in=issued.expires_in)

    @post(
        "/cookie",
        guards=[authenticated],
        dependencies=_PRINCIPAL,
        status_code=204,
        summary="Set the HttpOnly stream cookie for EventSource",
    )
    async def set_cookie(
        self,
        principal: NamedDependency[Principal],
        issue_stream_cookie: NamedDependency[IssueStreamCookie],
        secure_cookies: NamedDependency[bool],
    ) -> Response[None]:
        """The cookie carries a stream-only credential, sent with every reconnect (and its ``Last-Event-ID``)."""
        issued = issue_stream_cookie(principal)
        cookie = Cookie(
            key=STREAM_COOKIE,
            value=issued.token,
            path=self.path,
            max_age=issued.max_age_seconds,
            httponly=True,
            secure=secure_cookies,
            samesite="strict",
        )
        return Response(None, status_code=204, cookies=[cookie])

    @delete("/cookie", status_code=204, summary="Clear the stream cookie")
    async def clear_cookie(self) -> Response[None]:
        """Log the browser's stream out."""
        cookie = Cookie(key=STREAM_COOKIE, value="", path=self.path, max_age=0, httponly=True, samesite="strict")
        return Response(None, status_code=204, cookies=[cookie])
