"""One redaction step for every log line: no credential leaves the process in a log.

Credentials reach log records by many roads: a query string in an access
line (``?ticket=``), a header or cookie inside the repr of an ASGI scope, an
exception message quoting a request. Rather than guess which field may hold
one, the step rewrites every string of the rendered record, tracebacks
included, just before it is written.
"""

import re
from typing import Any

from structlog.typing import EventDict, WrappedLogger

REDACTED = "[redacted]"

_PATTERNS = (
    # A JWT, or the start of one (a truncated repr still carries a usable header and claims):
    # base64url of a JSON object always begins with "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}"), REDACTED),
    # Credentials in an Authorization header, whatever the token looks like.
    (re.compile(r"(?i)\b(bearer|basic)(\s+|'\s*,\s*b?')[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
    # Credentials as name=value: query strings, cookies, form bodies.
    (
        re.compile(r"(?i)\b(ticket|token|access_token|id_token|refresh_token|herald_stream|session)=[^&;\s\"',)]+"),
        rf"\1={REDACTED}",
    ),
)


def redact(text: str) -> str:
    """``text`` with every credential it holds replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    # Anything else would be written as its repr (a scope, a request, bytes): redact that.
    return redact(repr(value))


def redact_secrets(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: every field of the record, nested ones and the rendered traceback included."""
    return {key: _redacted(value) for key, value in event_dict.items()}
