"""CORS for browsers on other origins: Litestar's middleware, held to the allow-list."""

from typing import Any

import orjson
from litestar.config.cors import CORSConfig
from litestar.datastructures import Headers, MutableScopeHeaders
from litestar.types import Message, Scope

from presentation.http.errors import PROBLEM_JSON

_REFUSED_PREFLIGHT = "herald.refused_preflight"


def cors_config(origins: tuple[str, ...]) -> CORSConfig | None:
    """The allow-list from ``HERALD_CORS_ORIGINS``; none configured means no CORS headers at all.

    With ``*`` any origin may read, but without credentials (browsers refuse
    credentials with a wildcard); with named origins the exact origin is
    echoed and credentials (the stream cookie) are allowed.
    """
    if not origins:
        return None
    wildcard = "*" in origins
    return CORSConfig(
        allow_origins=["*"] if wildcard else list(origins),
        allow_credentials=not wildcard,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
        max_age=600,
    )


def _refused_preflight(origin: str) -> bytes:
    detail = f"the origin {origin[:100]!r} may not call this API from a browser"
    return orjson.dumps({"type": "about:blank", "title": "Bad Request", "status": 400, "detail": detail})


def unlisted_origin_guard(config: CORSConfig) -> Any:
    """A ``before_send`` hook that removes every CORS header for an origin not on the allow-list.

    Litestar's middleware omits ``Access-Control-Allow-Origin`` for such an
    origin but still sends the others (credentials, methods, headers); the
    checklist wants none at all, so nothing suggests the origin is trusted.
    Its refusal of a preflight is a plain-text 400; this hook rewrites it into
    a problem document like every other error.
    """

    async def guard(message: Message, scope: Scope) -> None:
        state = scope.setdefault("state", {})
        if message["type"] == "http.response.body":
            if _REFUSED_PREFLIGHT in state:
                message["body"] = state.pop(_REFUSED_PREFLIGHT)
            return
        if message["type"] != "http.response.start":
            return
        request = Headers.from_scope(scope)
        origin = request.get("origin")
        if origin is None or config.is_origin_allowed(origin):
            return
        headers = MutableScopeHeaders.from_message(message)
        for name in [key for key in headers.keys() if key.lower().startswith("access-control-")]:  # noqa: SIM118
            del headers[name]
        preflight = scope.get("method") == "OPTIONS" and "access-control-request-method" in request
        if preflight and message["status"] == 400:
            body = state[_REFUSED_PREFLIGHT] = _refused_preflight(origin)
            headers["content-type"] = PROBLEM_JSON
            headers["content-length"] = str(len(body))

    return guard
