"""The SSE wire encoder: turns fields into bytes a browser parses back exactly.

Rules from the WHATWG "Server-sent events" section: ``event:`` and ``id:``
values can never hold CR, LF or NUL (they would end the field early and let
a payload inject fields); every message ends with a blank line. Herald's data
is always compact JSON, which holds no raw line break, so every message has
exactly one ``data:`` line.
"""

import re

_UNSAFE_IN_FIELD = re.compile(r"[\r\n\x00]")

#: Sent to idle streams so proxies and clients see the connection is alive.
HEARTBEAT = b": ping\n\n"


class UnsafeFieldError(ValueError):
    """A value would break out of its SSE field."""


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        msg = "SSE text must be valid Unicode (a lone surrogate cannot be sent as UTF-8)"
        raise UnsafeFieldError(msg) from None


def _field(name: str, value: str) -> str:
    if _UNSAFE_IN_FIELD.search(value):
        msg = f"SSE {name} value must not contain CR, LF or NUL"
        raise UnsafeFieldError(msg)
    return f"{name}: {value}\n"


def encode_json_body(*, event: str, data_json: bytes) -> bytes:
    """Encode the ``event:`` and ``data:`` lines of a message whose data is compact JSON.

    JSON text never holds a raw CR or LF (they are escaped inside strings), so
    the data is one line and is not re-scanned; the event type is still checked.
    """
    return _utf8(_field("event", event)) + b"data: " + data_json + b"\n\n"


def encode_id_line(event_id: str) -> bytes:
    """Encode the ``id:`` line that goes in front of a body from :func:`encode_json_body`."""
    return _utf8(_field("id", event_id))


def encode_json_message(*, event: str, data_json: bytes, event_id: str) -> bytes:
    """Encode a complete message with an id and compact JSON data."""
    return encode_id_line(event_id) + encode_json_body(event=event, data_json=data_json)


def encode_retry(milliseconds: int) -> bytes:
    """Encode the reconnection delay hint (digits only, as the standard requires)."""
    if milliseconds < 0:
        msg = "retry must be a non-negative number of milliseconds"
        raise ValueError(msg)
    return f"retry: {int(milliseconds)}\n\n".encode()
