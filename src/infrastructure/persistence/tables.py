"""The schema, in SQLAlchemy Core: the domain's attrs classes stay plain, the repositories map them.

Alembic's migrations (``migrations/``) create exactly this; a test holds the
two equal.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the database keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: Herald's times are aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


#: SQLite numbers rows only in an INTEGER PRIMARY KEY; elsewhere a 64-bit identity.
RowId = BigInteger().with_variant(Integer(), "sqlite")

reports = Table(
    "reports",
    metadata,
    Column("report_id", Uuid(), primary_key=True),
    Column("owner_id", Uuid(), nullable=False),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("percent", SmallInteger(), nullable=False),
    Column("step", String(200)),
    Column("steps_done", SmallInteger(), nullable=False),
    Column("download_url", Text()),
    Column("failure", Text()),
    Column("version", Integer(), nullable=False),
    Column("requested_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    # The generator's lease (not domain state): who generates the report, until when, how often it was claimed.
    Column("lease_holder", String(64)),
    Column("lease_until", UtcDateTime()),
    Column("claims", SmallInteger(), nullable=False, server_default=text("0")),
    Index(None, "owner_id", "requested_at"),
    Index(
        "ix_reports_unfinished_lease",
        "lease_until",
        postgresql_where=text("lease_holder IS NOT NULL"),
        sqlite_where=text("lease_holder IS NOT NULL"),
    ),
    # A user's unfinished reports (only they are leased), counted by the quota however many are finished.
    Index(
        "ix_reports_unfinished_owner",
        "owner_id",
        postgresql_where=text("lease_holder IS NOT NULL"),
        sqlite_where=text("lease_holder IS NOT NULL"),
    ),
)

#: Who besides its owner may read and watch a report. A share goes with its report.
report_shares = Table(
    "report_shares",
    metadata,
    Column("report_id", Uuid(), ForeignKey(reports.c.report_id, ondelete="CASCADE"), primary_key=True),
    Column("user_id", Uuid(), primary_key=True),
    Column("shared_at", UtcDateTime(), nullable=False),
    Index(None, "user_id"),
)

announcements = Table(
    "announcements",
    metadata,
    Column("announcement_id", Uuid(), primary_key=True),
    Column("author_id", Uuid(), nullable=False),
    Column("message", Text(), nullable=False),
    Column("published_at", UtcDateTime(), nullable=False),
    Column("tenant", String(64), nullable=True),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", RowId, primary_key=True, autoincrement=True),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("event_type", String(128), nullable=False),
    Column("payload", Text(), nullable=False),
    Column("partition", SmallInteger(), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    # The log fields of the request that committed it (its request id), so its delivery is logged with them.
    Column("log_context", Text()),
    # The W3C context of the trace it was committed in (JSON: traceparent, tracestate), so its relay and
    # delivery continue that trace; empty when tracing was off.
    Column("trace_context", Text()),
    Column("first_tried_at", UtcDateTime()),
    Column("attempts", Text(), nullable=False, server_default=text("''")),
    Column("published_at", UtcDateTime()),
    Column("failure", Text()),
    # What the relay reads: the unpublished rows of one partition, oldest first.
    Index(
        "ix_outbox_pending",
        "partition",
        "id",
        postgresql_where=text("published_at IS NULL"),
        sqlite_where=text("published_at IS NULL"),
    ),
    Index(None, "published_at"),
)

#: Sessions logged out without Redis: kept in the database so that a restart does not forget them.
revoked_sessions = Table(
    "revoked_sessions",
    metadata,
    Column("session_id", String(255), primary_key=True),
    Column("revoked_until", UtcDateTime(), nullable=False),
    Index(None, "revoked_until"),
)
