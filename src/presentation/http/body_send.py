"""A stream's body frames go straight to the server's ``send``, below Litestar's per-message chain.

Every message a handler sends passes the exception middleware's wrapper
and each ``before_send`` hook, which act on the response's start only
(headers, the request id, the response-started flag). A stream sends one
message per event for hours, so its body skips them: the outermost wrapper
puts the server's own ``send`` in the scope, the send timeout wraps it with
its bookkeeping (:mod:`presentation.http.send_timeout`), and the SSE response
writes its frames there (:mod:`presentation.http.sse_response`). The start of
the response still takes the whole chain.
"""

from typing import Any, cast

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

_SERVER_SEND = "herald.server_send"
_BODY_SEND = "herald.body_send"


def _extensions(scope: Scope) -> dict[str, Any]:
    return cast("dict[str, Any]", scope)


def expose_server_send(app: ASGIApp) -> Any:
    """The ASGI app that hands ``app`` the server's ``send`` in its scope, beside the wrapped one."""

    async def with_server_send(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            _extensions(scope)[_SERVER_SEND] = send
        await app(scope, receive, send)

    return with_server_send


def server_send(scope: Scope) -> Send | None:
    """The server's own ``send``, when :func:`expose_server_send` handed it down."""
    return cast("Send | None", _extensions(scope).get(_SERVER_SEND))


def offer_body_send(scope: Scope, send: Send) -> None:
    """Let the response body write to ``send`` (the server's, with the send timeout's bookkeeping)."""
    _extensions(scope)[_BODY_SEND] = send


def body_send(scope: Scope, default: Send) -> Send:
    """Where the body goes: the offered ``send``, else ``default`` (the whole chain)."""
    return cast("Send", _extensions(scope).get(_BODY_SEND, default))
