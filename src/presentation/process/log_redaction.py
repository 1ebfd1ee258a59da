"""One redaction step for every log line: no credential leaves the process in a log.

Credentials reach log records by many roads: a query string in an access
line (``?ticket=``), a header or cookie inside the repr of an ASGI scope, an
exception message quoting a request. Rather than guess which field may hold
one, the step rewrites every string of the rendered record, tracebacks
included, just before it is written.

A ``name=value`` credential is recognised by its name as the app reads it:
Litestar decodes query parameter names, so ``%74icket=`` is a ticket and is
redacted as one. Names are compared after percent-escapes and ``+`` are
decoded (repeatedly, so a double escape counts too), in any case, whether the
``=`` is written or escaped, wherever a pair can begin (after ``?``, ``&``,
``;``, a space, or an escaped separator); the ``'name': 'value'`` pairs of a
repr are compared the same way.
"""

import functools
import re
from typing import Any
from urllib.parse import unquote_plus

from structlog.typing import EventDict, WrappedLogger

from presentation.http.auth import STREAM_COOKIE, TICKET_PARAMETER

REDACTED = "[redacted]"

#: Names whose value is a credential, wherever they appear (query strings, cookies, form bodies, reprs).
CREDENTIAL_NAMES = frozenset(
    {TICKET_PARAMETER, STREAM_COOKIE, "token", "access_token", "id_token", "refresh_token", "session"}
)

_PATTERNS = (
    # A JWT, or the start of one (a truncated repr still carries a usable header and claims):
    # base64url of a JSON object always begins with "eyJ".
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){0,2}"), REDACTED),
    # Credentials in an Authorization header, whatever the token looks like.
    (re.compile(r"(?i)\b(bearer|basic)(\s+|'\s*,\s*b?')[A-Za-z0-9._~+/=-]+"), rf"\1\2{REDACTED}"),
)

#: Escapes of the characters that end a name (space " & ' , / ; = ?): a name is cut there, as at the character.
_SEPARATOR = r"2[0267CcFf]|3[BbDdFf]"
_NAME_UNIT = rf"(?:[\w.~+-]|%(?!{_SEPARATOR})[0-9A-Fa-f]{{2}})"
#: A pair's name and its ``=`` (or ``%3D``). A name begins after a character no name holds or an escaped
#: one (``a%26ticket=``); names never overlap, so a line is scanned once.
_PAIR = re.compile(rf"(?:(?<![\w.~%+-])|(?<=%2[0267CcFf])|(?<=%3[BbDdFf]))(?P<name>{_NAME_UNIT}{{1,64}})(?:=|%3[Dd])")
_VALUE = re.compile(r"[^&;\s\"',)]+")
#: ``'ticket': 'abc'`` or ``("ticket", "abc")``: parsed parameters, cookies or headers in a repr.
_QUOTED_PAIR = re.compile(r"""(['"])([^'"\s]{1,64})\1(\s*[:,]\s*b?)(['"])[^'"]+\4""")
#: The decoded name is, or ends with, a credential name (``x-ticket``, ``a&ticket`` from ``a%2526ticket``).
_CREDENTIAL_AT_END = re.compile(rf"(?:^|[^A-Za-z0-9_])(?:{'|'.join(sorted(CREDENTIAL_NAMES))})$", re.IGNORECASE)


def _decoded(name: str) -> str:
    """``name`` as a framework reads it (percent-escapes and ``+``), and as it reads if decoded once more."""
    for _ in range(3):
        decoded = unquote_plus(name)
        if decoded == name:
            break
        name = decoded
    return name.strip()


@functools.lru_cache(maxsize=1024)
def names_a_credential(name: str) -> bool:
    """Whether a parameter, cookie or field of this (raw or decoded) name carries a credential."""
    return _CREDENTIAL_AT_END.search(_decoded(name)) is not None


def _redact_pairs(text: str) -> str:
    parts, kept = [], 0
    for pair in _PAIR.finditer(text):
        if pair.start() < kept or not names_a_credential(pair["name"]):
            continue
        value = _VALUE.match(text, pair.end())
        if value is not None:
            parts += [text[kept : pair.end()], REDACTED]
            kept = value.end()
    return "".join([*parts, text[kept:]])


def _redact_quoted_pair(pair: re.Match[str]) -> str:
    quote, name, separator, opening = pair.groups()
    if not names_a_credential(name):
        return pair[0]
    return f"{quote}{name}{quote}{separator}{opening}{REDACTED}{opening}"


def redact(text: str) -> str:
    """``text`` with every credential it holds replaced by ``[redacted]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _QUOTED_PAIR.sub(_redact_quoted_pair, _redact_pairs(text))


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
