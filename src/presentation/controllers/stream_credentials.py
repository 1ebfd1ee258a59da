"""Credentials for browsers' EventSource, which cannot send an ``Authorization`` header."""

from datetime import UTC, datetime

import msgspec
from litestar import Controller, Response, delete, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide

from infrastructure.auth import Principal, TokenService
from infrastructure.auth.tickets import TicketStore
from infrastructure.settings import Settings
from presentation.auth import STREAM_COOKIE, provide_principal


class TicketIssued(msgspec.Struct):
    """A single-use credential for ``GET /api/v1/events?ticket=...``."""

    ticket: str
    expires_in: int


class StreamCredentialsController(Controller):
    """A single-use ticket, or the HttpOnly stream cookie; both obtained with the bearer token."""

    path = "/api/v1/events"
    tags = ["events"]

    @post(
        "/tickets",
        dependencies={"principal": Provide(provide_principal)},
        status_code=201,
        summary="Issue a single-use stream ticket for EventSource",
    )
    async def issue_ticket(
        self, principal: NamedDependency[Principal], ticket_store: NamedDependency[TicketStore]
    ) -> TicketIssued:
        """A ticket opens one stream within a few seconds; a long-lived token never goes into a URL."""
        ticket = await ticket_store.issue(principal)
        return TicketIssued(ticket=ticket, expires_in=int(ticket_store.ttl_seconds))

    @post(
        "/cookie",
        dependencies={"principal": Provide(provide_principal)},
        status_code=204,
        summary="Set the HttpOnly stream cookie for EventSource",
    )
    async def set_cookie(
        self,
        principal: NamedDependency[Principal],
        token_service: NamedDependency[TokenService],
        settings: NamedDependency[Settings],
    ) -> Response[None]:
        """The cookie carries a stream-only credential, sent with every reconnect (and its ``Last-Event-ID``)."""
        max_age = max(0, int((principal.expires_at - datetime.now(UTC)).total_seconds()))
        cookie = Cookie(
            key=STREAM_COOKIE,
            value=token_service.issue_stream_token(principal),
            path=self.path,
            max_age=max_age,
            httponly=True,
            secure=settings.is_production,
            samesite="strict",
        )
        return Response(None, status_code=204, cookies=[cookie])

    @delete("/cookie", status_code=204, summary="Clear the stream cookie")
    async def clear_cookie(self) -> Response[None]:
        """Log the browser's stream out."""
        cookie = Cookie(key=STREAM_COOKIE, value="", path=self.path, max_age=0, httponly=True, samesite="strict")
        return Response(None, status_code=204, cookies=[cookie])
