"""Request ids: every HTTP request's log lines carry one id, and its response returns it in ``X-Request-ID``.

Litestar's structlog plugin (``litestar.plugins.structlog``) was not used: it
configures process-wide logging whenever an app is built (choosing JSON by
whether stderr is a terminal, not by the settings), adds a request/response
logging middleware that repeats uvicorn's access log, and assigns no request
id. So the process configures logging once (:mod:`presentation.process.logging_setup`)
and the id comes from Litestar's two hooks below: app middleware binds it for
the request's duration (so every line logged while handling it, the stream's
included, carries it), and a ``before_send`` hook puts it on every response —
also on those Litestar answers before any route (404, 405, CORS preflight),
which no middleware sees.
"""

import re
import uuid

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "x-request-id"
_STATE_KEY = "request_id"
# Bounded and plain, so a client's id cannot forge or flood log lines.
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(scope: Scope) -> str:
    """The request's id: set once per request, from a well-formed ``X-Request-ID`` or freshly generated."""
    state = scope.setdefault("state", {})
    existing = state.get(_STATE_KEY)
    if isinstance(existing, str):
        return existing
    incoming = next((value for name, value in scope.get("headers", ()) if name == HEADER.encode()), b"")
    text = incoming.decode("latin-1")
    request_id = text if _WELL_FORMED.fullmatch(text) else uuid.uuid4().hex
    state[_STATE_KEY] = request_id
    return request_id


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Bind ``request_id`` to structlog's context variables while the request is handled."""

    async def with_request_id(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        # Tokens rather than the ``bound_contextvars`` context manager, whose
        # generator would stay alive beside every open stream.
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id_of(scope))
        try:
            await app(scope, receive, send)
        finally:
            structlog.contextvars.reset_contextvars(**tokens)

    return with_request_id


def add_request_id(message: Message, scope: Scope) -> None:
    """Put ``X-Request-ID`` on a response's start (see :mod:`presentation.http.response_start`)."""
    request_id = request_id_of(scope)
    # A request no route took never passed the middleware: bind the id for its access-log line.
    structlog.contextvars.bind_contextvars(request_id=request_id)
    MutableScopeHeaders.from_message(message)[HEADER] = request_id
