"""A use case's refusal as an HTTP error: the status, and the headers that tell the client what to do."""

from typing import NoReturn

from litestar.exceptions import HTTPException

from application.refusals import RefusalKind, Refused
from infrastructure.service_name import SERVICE

STATUS = {
    RefusalKind.INVALID: 400,
    RefusalKind.UNAUTHENTICATED: 401,
    RefusalKind.FORBIDDEN: 403,
    RefusalKind.NOT_FOUND: 404,
    RefusalKind.CONFLICT: 409,
    RefusalKind.TOO_MANY: 429,
    RefusalKind.UNAVAILABLE: 503,
}
#: RFC 9110: a 401 names the scheme the client should use.
CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{SERVICE.slug}"'}


def refuse(refused: Refused) -> NoReturn:
    """Raise the HTTP error for ``refused`` (a problem document, like every error)."""
    headers = dict(CHALLENGE) if refused.kind is RefusalKind.UNAUTHENTICATED else {}
    if refused.retry_after_seconds is not None:
        headers["Retry-After"] = str(refused.retry_after_seconds)
    raise HTTPException(status_code=STATUS[refused.kind], detail=refused.detail, headers=headers or None)
