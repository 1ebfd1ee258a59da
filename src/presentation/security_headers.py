"""Headers every response carries, so a browser never sniffs, frames or leaks what Herald sends."""

from collections.abc import Awaitable, Callable

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def security_headers() -> Callable[[Message, Scope], Awaitable[None]]:
    """A ``before_send`` hook: add :data:`SECURITY_HEADERS` to every HTTP response (404s and preflights too)."""

    async def add_headers(message: Message, _: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        for name, value in SECURITY_HEADERS.items():
            headers[name] = value

    return add_headers
