"""The ``cursor`` of ``GET /api/v1/reports``: the last report's key, opaque to clients and checked when it returns."""

import base64
import re
from datetime import UTC, datetime, timedelta
from uuid import UUID

from application.ports.unit_of_work import ReportKey

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_KEY = re.compile(r"(\d{1,18})\.([0-9a-f]{32})")


class BadCursorError(ValueError):
    """The text is not a cursor this service gave."""


def encode_cursor(key: ReportKey) -> str:
    """The cursor of the page after ``key`` (exact to the microsecond the database keeps)."""
    micros = (key.requested_at - _EPOCH) // _MICROSECOND
    return base64.urlsafe_b64encode(f"{micros}.{key.report_id.hex}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> ReportKey:
    """The key in ``cursor``; raises :class:`BadCursorError` for anything :func:`encode_cursor` did not write."""
    try:
        text = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode("ascii")
    except (ValueError, UnicodeDecodeError):  # binascii.Error, or text that is not ASCII at all
        raise BadCursorError(cursor) from None
    match = _KEY.fullmatch(text)
    if match is None:
        raise BadCursorError(cursor)
    try:
        requested_at = _EPOCH + int(match[1]) * _MICROSECOND
    except OverflowError:
        raise BadCursorError(cursor) from None
    return ReportKey(requested_at, UUID(match[2]))
