"""The HTTP connection's own limits: how large a header block, how long to send a request.

uvicorn's httptools protocol buffers an unfinished header block without limit
and waits for ever for a request that never finishes. Herald binds to public
interfaces in its container, so the process protects itself rather than
trusting a proxy to: this subclass counts the bytes of each header block
before the parser sees them (431 beyond the limit) and gives each request a
deadline for its headers and body (the connection is closed after it).
Idle keep-alive connections are closed by uvicorn's own ``timeout_keep_alive``.
Each request's scope also carries a way to drop its connection at once
(``presentation.http.connection_drop``), for a client that stopped taking data.
"""

import asyncio
import logging
from http import HTTPStatus
from typing import Any, ClassVar

import attrs
import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from presentation.http.connection_drop import DROP_CONNECTION

logger = logging.getLogger(__name__)

#: After a refusal, what the client still sends is read and dropped for a while, so that
#: closing does not reset the connection before the client has read the refusal.
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 262_144
#: What the transport answers on its own, before any route: a header block over the limit, a request too slow.
HEADERS_TOO_LARGE = 431
TOO_SLOW = 408
TRANSPORT_REFUSALS = {
    HEADERS_TOO_LARGE: "the request line and headers are larger than the service takes (HERALD_HTTP_MAX_HEADER_BYTES)",
    TOO_SLOW: "the request was not received in time (HERALD_HTTP_REQUEST_SECONDS)",
}


@attrs.frozen(kw_only=True)
class TransportLimits:
    """What one HTTP request may cost the process before the application sees it."""

    max_header_bytes: int
    """Request line and headers together; a larger block gets 431 and the connection is closed."""
    request_seconds: float
    """From a request's first byte (or the connection's opening) to its last byte of body."""


def refusal(status: int, detail: str) -> bytes:
    """A complete ``Connection: close`` response with a problem document, written before any ASGI cycle exists."""
    problem = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": detail}
    body = orjson.dumps(problem)
    head = b"content-type: application/problem+json\r\nconnection: close\r\ncontent-length: %d\r\n\r\n" % len(body)
    return STATUS_LINE[status] + head + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with :class:`TransportLimits` enforced per request.

    Each request (pipelined ones too) starts its deadline when its first byte
    is parsed. Its header block is measured twice: exactly, once complete
    (request line and headers, from the parser's callbacks); and, while still
    incomplete, by the bytes received since it began, so an unfinished block
    cannot grow without limit. A refused connection parses nothing more.
    """

    limits: ClassVar[TransportLimits]
    # Slots, not instance attributes: more keys would turn every connection's shared-key
    # __dict__ into a table of its own, about a kilobyte more per open stream.
    __slots__ = ("_awaiting_headers", "_deadline", "_discarded", "_unfinished_bytes")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._awaiting_headers = True
        self._unfinished_bytes = 0  # received while a header block was incomplete
        self._deadline: asyncio.TimerHandle | None = None
        self._discarded: int | None = None  # bytes dropped since a refusal; None before one

    @classmethod
    def with_limits(cls, limits: TransportLimits) -> type["LimitedHttpToolsProtocol"]:
        """A protocol class for uvicorn's ``Config(http=...)``, which instantiates it per connection."""
        return type(cls.__name__, (cls,), {"limits": limits, "__slots__": ()})

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()  # a client that connects must send its request in time, too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._discarded is not None:
            self._discarded += len(data)
            if self._discarded > _LINGER_BYTES:
                self.transport.close()
            return
        if self._awaiting_headers:
            self._unfinished_bytes += len(data)
        super().data_received(data)
        if self._discarded is None and self._awaiting_headers and self._unfinished_bytes > self.limits.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE, self._too_large)

    def on_message_begin(self) -> None:
        if self._discarded is not None:
            return
        super().on_message_begin()
        self.scope[DROP_CONNECTION] = self.transport.abort  # type: ignore[literal-required]
        self._awaiting_headers = True
        if self._deadline is None:
            self._start_deadline()

    def on_url(self, url: bytes) -> None:
        if self._discarded is None:
            super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._discarded is None:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self._discarded is not None:
            return
        self._awaiting_headers, self._unfinished_bytes = False, 0
        # About the request line's method and version, and ": " and CRLF around each header.
        size = len(self.url) + 16 + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_header_bytes:
            self._refuse(HEADERS_TOO_LARGE, self._too_large)
            return
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if self._discarded is None:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._discarded is not None:
            return
        super().on_message_complete()
        self._stop_deadline()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, as a problem document like every other error."""
        self._refuse(400, msg)

    @property
    def _too_large(self) -> str:
        return f"the request line and headers exceed {self.limits.max_header_bytes} bytes"

    def _start_deadline(self) -> None:
        self._deadline = self.loop.call_later(self.limits.request_seconds, self._deadline_passed)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _deadline_passed(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._awaiting_headers and (self.cycle is None or self.cycle.response_complete):
            self._refuse(TOO_SLOW, f"the request was not received within {self.limits.request_seconds:g} s")
        else:
            # The application is reading this request's body: closing tells it the client is gone.
            self.transport.close()

    def _refuse(self, status: int, detail: str) -> None:
        if self._discarded is not None:
            return  # refused already: one answer per connection
        logger.debug("refused a request from %s: %s", self.client, detail)
        self._stop_deadline()
        self._discarded = 0
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is under way: no room for another
            return
        self.transport.write(refusal(status, detail))
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, self.transport.close)
