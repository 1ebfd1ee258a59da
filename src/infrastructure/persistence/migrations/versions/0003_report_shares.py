"""Report shares: the users besides its owner who may read and watch a report.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-14 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_shares",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("shared_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.report_id"],
            name=op.f("fk_report_shares_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("report_id", "user_id", name=op.f("pk_report_shares")),
    )
    with op.batch_alter_table("report_shares", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_shares_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("report_shares", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_shares_user_id"))

    op.drop_table("report_shares")
