"""Who is calling: a bearer token; for the stream also a single-use ticket or the stream cookie.

API routes authenticate in a guard (:func:`authenticated`), which Litestar
runs before it reads the request's body: an anonymous caller never gets as
far as having its body parsed.
"""

from datetime import UTC, datetime
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from infrastructure.auth import Principal, TokenError, TokenService
from infrastructure.auth.sessions import SessionRevocations
from infrastructure.auth.tickets import TicketStore
from infrastructure.container import Container, resolve

#: HttpOnly cookie holding a stream-only token; EventSource sends it on every reconnect.
STREAM_COOKIE = "herald_stream"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="herald"'}
_PRINCIPAL = "herald.principal"


def _refuse(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers=_CHALLENGE)


def _authorization(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str] | None:
    """The ``Authorization`` header as (scheme in lower case, credentials), or None."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    return scheme.lower(), credentials.strip()


def _bearer_token(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    authorization = _authorization(connection)
    if authorization is None:
        raise _refuse("a bearer token is required")
    scheme, token = authorization
    if scheme != "bearer" or not token:
        raise _refuse("the Authorization header must be 'Bearer <token>'")
    return token


async def _unrevoked(principal: Principal, revocations: SessionRevocations) -> Principal:
    if principal.session_id is not None and await revocations.is_revoked(principal.session_id):
        raise _refuse("the session was revoked; sign in again")
    return principal


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of API routes: a valid bearer token of a live session is required."""
    container: Container = connection.app.state.container
    token_service = container.token_service()
    revocations = await resolve(container.session_revocations)
    try:
        principal = token_service.verify(_bearer_token(connection))
    except TokenError as error:
        raise _refuse(str(error)) from None
    connection.state[_PRINCIPAL] = await _unrevoked(principal, revocations)


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller of an API route, as the :func:`authenticated` guard found it."""
    principal: Principal = request.state[_PRINCIPAL]
    return principal


async def provide_stream_principal(
    request: Request[Any, Any, Any],
    token_service: NamedDependency[TokenService],
    ticket_store: NamedDependency[TicketStore],
    session_revocations: NamedDependency[SessionRevocations],
) -> Principal:
    """The caller of the stream: a bearer token, else a single-use ticket, else the stream cookie.

    Another scheme in ``Authorization`` (a proxy's ``Basic``, say) is not the
    caller's credential for Herald: it is passed over when a ticket or the
    cookie is there.
    """
    authorization = _authorization(request)
    bearer = authorization is not None and authorization[0] == "bearer"
    ticket = request.query_params.get("ticket")
    cookie = request.cookies.get(STREAM_COOKIE)
    try:
        if bearer or (authorization is not None and ticket is None and not cookie):
            principal = token_service.verify(_bearer_token(request))
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
