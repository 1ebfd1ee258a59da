"""Identity and time helpers shared by every domain object."""

from datetime import UTC, datetime
from uuid import UUID

from uuid_utils.compat import uuid7


def new_event_id() -> UUID:
    """Return a UUIDv7: unique, and sortable by creation time for log reading."""
    return uuid7()


def utc_now() -> datetime:
    """Return an aware UTC timestamp; naive datetimes never enter the domain."""
    return datetime.now(UTC)
