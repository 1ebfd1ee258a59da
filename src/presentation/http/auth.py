"""Credentials as HTTP carries them: the ``Authorization`` header, the stream ticket and the stream cookie.

API routes authenticate in a guard (:func:`authenticated`), which Litestar
runs before it reads the request's body: an anonymous caller never gets as
far as having its body parsed. The stream names its credential with
:func:`stream_credential` and leaves the rest to the ``OpenStream`` use case.
"""

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from application.access import Authenticate
from application.principal import Principal
from application.refusals import RefusalKind, Refused, unauthenticated
from application.streams import BearerToken, StreamCookie, StreamCredential, StreamTicket
from infrastructure.service_name import SERVICE
from presentation.http.refusals import refuse

#: HttpOnly cookie holding a stream-only token; EventSource sends it on every reconnect.
STREAM_COOKIE = SERVICE.stream_cookie
#: Query parameter of the single-use stream ticket (its name as Litestar decodes it).
TICKET_PARAMETER = "ticket"
#: Where the composition root puts the ``Authenticate`` use case for the guard (guards get no injection).
AUTHENTICATE = "authenticate"
_PRINCIPAL = "herald.principal"


def _authorization(connection: ASGIConnection[Any, Any, Any, Any]) -> tuple[str, str] | None:
    """The ``Authorization`` header as (scheme in lower case, credentials), or None."""
    header = connection.headers.get("authorization")
    if header is None:
        return None
    scheme, _, credentials = header.partition(" ")
    return scheme.lower(), credentials.strip()


def _bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> BearerToken | Refused:
    authorization = _authorization(connection)
    if authorization is None:
        return unauthenticated("a bearer token is required")
    scheme, token = authorization
    if scheme != "bearer" or not token:
        return unauthenticated("the Authorization header must be 'Bearer <token>'")
    return BearerToken(token)


async def authenticated(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Guard of API routes: a valid bearer token of a live session is required.

    ``OPTIONS`` passes: it asks which methods a path has, reveals nothing and
    changes nothing, and answers the same on every path.
    """
    if connection.scope.get("method") == "OPTIONS":
        return
    bearer = _bearer(connection)
    if isinstance(bearer, Refused):
        refuse(bearer)
    authenticate: Authenticate = connection.app.state[AUTHENTICATE]
    caller = await authenticate(bearer.token)
    if isinstance(caller, Refused):
        refuse(caller)
    connection.state[_PRINCIPAL] = caller


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller of an API route, as the :func:`authenticated` guard found it."""
    principal: Principal = request.state[_PRINCIPAL]
    return principal


def stream_credential(request: Request[Any, Any, Any]) -> StreamCredential | None:
    """The stream's credential: a bearer token, else a single-use ticket, else the stream cookie.

    Another scheme in ``Authorization`` (a proxy's ``Basic``, say) is not the
    caller's credential for Herald: it is passed over when a ticket or the
    cookie is there, and refused (saying why) when it is all there is.
    """
    authorization = _authorization(request)
    ticket = request.query_params.get(TICKET_PARAMETER)
    cookie = request.cookies.get(STREAM_COOKIE)
    if authorization is not None and (authorization[0] == "bearer" or (ticket is None and not cookie)):
        bearer = _bearer(request)
        if isinstance(bearer, Refused):
            refuse(bearer)
        return bearer
    if ticket is not None:
        return StreamTicket(ticket)
    if cookie:
        return StreamCookie(cookie)
    return None


def require_role(principal: Principal, role: str) -> None:
    """Raise 403 unless the principal holds ``role``."""
    if not principal.has_role(role):
        refuse(Refused(RefusalKind.FORBIDDEN, f"the {role!r} role is required"))
