"""Revoked sessions, for a process without Redis; unfinished reports by owner, for the quota.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 17:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(length=255), nullable=False),
        sa.Column("revoked_until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_revoked_sessions")),
    )
    with op.batch_alter_table("revoked_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_sessions_revoked_until"), ["revoked_until"], unique=False)
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reports_unfinished_owner",
            ["owner_id"],
            unique=False,
            postgresql_where=sa.text("lease_holder IS NOT NULL"),
            sqlite_where=sa.text("lease_holder IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_reports_unfinished_owner",
            postgresql_where=sa.text("lease_holder IS NOT NULL"),
            sqlite_where=sa.text("lease_holder IS NOT NULL"),
        )
    with op.batch_alter_table("revoked_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_sessions_revoked_until"))

    op.drop_table("revoked_sessions")
