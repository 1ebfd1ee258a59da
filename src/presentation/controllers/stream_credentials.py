"""Credentials for browsers' EventSource, which cannot send an ``Authorization`` header."""

from datetime import UTC, datetime

import msgspec
from litestar import Controller, Response, delete, post
from litestar.datastructures import Cookie
from litestar.di import NamedDependency, Provide
from litestar.exceptions import TooManyRequestsException

from infrastructure.auth import Principal, TokenService
from infrastructure.auth.tickets import TicketStore
from infrastructure.settings import Settings
from infrastructure.streams.rate import PerUserRate
from presentation.auth import STREAM_COOKIE, authenticated, provide_principal

_PRINCIPAL = {"principal": Provide(provide_principal, sync_to_thread=False)}


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
        guards=[authenticated],
        dependencies=_PRINCIPAL,
        status_code=201,
        summary="Issue a single-use stream ticket for EventSource",
    )
    async def issue_ticket(
        self,
        principal: NamedDependency[Principal],
        ticket_store: NamedDependency[TicketStore],
        ticket_rate: NamedDependency[PerUserRate],
    ) -> TicketIssued:
        """A ticket opens one stream within a few seconds; a long-lived token never goes into a URL."""
        if not ticket_rate.take(principal.user_id):
            retry_after = str(ticket_rate.retry_after_seconds(principal.user_id))
            raise TooManyRequestsException(
                detail="too many stream tickets for this user; slow down", headers={"Retry-After": retry_after}
            )
        ticket = await ticket_store.issue(principal)
        return TicketIssued(ticket=ticket, expires_in=int(ticket_store.ttl_seconds))

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
