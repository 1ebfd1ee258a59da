"""Who is calling: a bearer token; for the stream also a single-use ticket or the stream cookie."""

from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from infrastructure.auth import Principal, TokenError, TokenService
from infrastructure.auth.sessions import SessionRevocations
from infrastructure.auth.tickets import TicketStore

#: HttpOnly cookie holding a stream-only token; EventSource sends it on every reconnect.
STREAM_COOKIE = "herald_stream"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="herald"'}


def _refuse(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers=_CHALLENGE)


def _bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _refuse("the Authorization header must be 'Bearer <token>'")
    return token.strip()


async def _unrevoked(principal: Principal, revocations: SessionRevocations) -> Principal:
    if principal.session_id is not None and await revocations.is_revoked(principal.session_id):
        raise _refuse("the session was revoked; sign in again")
    return principal


async def provide_principal(
    request: Request[Any, Any, Any],
    token_service: NamedDependency[TokenService],
    session_revocations: NamedDependency[SessionRevocations],
) -> Principal:
    """The caller of an API route: a valid bearer token of a live session is required."""
    token = _bearer_token(request)
    if token is None:
        raise _refuse("a bearer token is required")
    try:
        principal = token_service.verify(token)
    except TokenError as error:
        raise _refuse(str(error)) from None
    return await _unrevoked(principal, session_revocations)


async def provide_stream_principal(
    request: Request[Any, Any, Any],
    token_service: NamedDependency[TokenService],
    ticket_store: NamedDependency[TicketStore],
    session_revocations: NamedDependency[SessionRevocations],
) -> Principal:
    """The caller of the stream: a bearer token, else a single-use ticket, else the stream cookie."""
    token = _bearer_token(request)
    ticket = request.query_params.get("ticket")
    cookie = request.cookies.get(STREAM_COOKIE)
    try:
        if token is not None:
            principal = token_service.verify(token)
        elif ticket is not None:
            redeemed = await ticket_store.redeem(ticket) if len(ticket) <= 128 else None
            if redeemed is None:
                raise _refuse("the ticket is invalid, expired or already used")
            principal = redeemed
        elif cookie:
            principal = token_service.verify_stream_token(cookie)
        else:
            raise _refuse("a bearer token, a ticket or the stream cookie is required")
    except TokenError as error:
        raise _refuse(str(error)) from None
    if principal.expires_at <= datetime.now(UTC):
        # The verification leeway is for clock skew on API calls; a stream would end at once.
        raise _refuse("the token has expired")
    return await _unrevoked(principal, session_revocations)


def require_role(principal: Principal, role: str) -> None:
    """Raise 403 unless the principal holds ``role``."""
    if not principal.has_role(role):
        raise PermissionDeniedException(detail=f"the {role!r} role is required")
