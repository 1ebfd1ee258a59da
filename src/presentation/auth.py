"""Who is calling: a bearer token, or the stream cookie for browsers' EventSource."""

from typing import Any

from litestar import Request
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from infrastructure.auth import Principal, TokenError, TokenService

#: HttpOnly cookie holding a stream-only token; EventSource sends it on every reconnect.
STREAM_COOKIE = "herald_stream"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="herald"'}


def _bearer_token(request: Request[Any, Any, Any]) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthorizedException(detail="the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    return token.strip()


async def provide_principal(request: Request[Any, Any, Any], token_service: NamedDependency[TokenService]) -> Principal:
    """The caller of an API route: a valid bearer token is required."""
    token = _bearer_token(request)
    if token is None:
        raise NotAuthorizedException(detail="a bearer token is required", headers=_CHALLENGE)
    try:
        return token_service.verify(token)
    except TokenError as error:
        raise NotAuthorizedException(detail=str(error), headers=_CHALLENGE) from None


async def provide_stream_principal(
    request: Request[Any, Any, Any], token_service: NamedDependency[TokenService]
) -> Principal:
    """The caller of the stream: a bearer token, or else the stream cookie."""
    token = _bearer_token(request)
    try:
        if token is not None:
            return token_service.verify(token)
        cookie = request.cookies.get(STREAM_COOKIE)
        if cookie:
            return token_service.verify_stream_token(cookie)
    except TokenError as error:
        raise NotAuthorizedException(detail=str(error), headers=_CHALLENGE) from None
    raise NotAuthorizedException(detail="a bearer token or the stream cookie is required", headers=_CHALLENGE)


def require_role(principal: NamedDependency[Principal], role: str) -> None:
    """Raise 403 unless the principal holds ``role``."""
    if not principal.has_role(role):
        raise PermissionDeniedException(detail=f"the {role!r} role is required")
