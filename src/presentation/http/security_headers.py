"""Headers every response carries, so a browser never sniffs, frames or leaks what Herald sends."""

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def add_security_headers(message: Message, _: Scope) -> None:
    """Put :data:`SECURITY_HEADERS` on a response's start (404s and preflights too)."""
    headers = MutableScopeHeaders.from_message(message)
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
