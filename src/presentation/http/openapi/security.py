"""The credentials the document names: the schemes, and which operation needs which.

An API route needs the bearer token exactly when the :func:`authenticated`
guard stands before it, so its requirement is read from its guards; the
stream, which browsers open without an ``Authorization`` header, names its
three credentials itself (:data:`STREAM_SECURITY`).
"""

from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import Components, SecurityRequirement, SecurityScheme

from presentation.http.auth import STREAM_COOKIE, TICKET_PARAMETER, authenticated

BEARER = "bearer"
STREAM_COOKIE_SCHEME = "streamCookie"
STREAM_TICKET_SCHEME = "streamTicket"

SCHEMES: dict[str, SecurityScheme] = {
    BEARER: SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="An access token: Herald's own HS256 token (HERALD_JWT_SECRET; POST /api/v1/dev/tokens in "
        "development), or the identity provider's when HERALD_OIDC_ISSUER or HERALD_JWKS_URL is set.",
    ),
    STREAM_COOKIE_SCHEME: SecurityScheme(
        type="apiKey",
        name=STREAM_COOKIE,
        security_scheme_in="cookie",
        description="The HttpOnly stream cookie set by POST /api/v1/events/cookie; the stream only.",
    ),
    STREAM_TICKET_SCHEME: SecurityScheme(
        type="apiKey",
        name=TICKET_PARAMETER,
        security_scheme_in="query",
        description="A single-use ticket from POST /api/v1/events/tickets; the stream only.",
    ),
}

#: Any one of them opens the stream.
STREAM_SECURITY: list[SecurityRequirement] = [{BEARER: []}, {STREAM_COOKIE_SCHEME: []}, {STREAM_TICKET_SCHEME: []}]


def components() -> Components:
    return Components(security_schemes=dict(SCHEMES))


def requirement(handler: HTTPRouteHandler) -> list[SecurityRequirement] | None:
    """The bearer token for a route behind :func:`authenticated`; None leaves the handler's own declaration."""
    if authenticated in handler.resolve_guards():
        return [{BEARER: []}]
    return None
