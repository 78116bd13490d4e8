"""answer told_at: a grade is told to its member exactly once, by reply or by DM

Revision ID: e4f1a9c3b7d5
Revises: c5b81e7d2a64
Create Date: 2026-12-02 15:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.store.types

revision: str = "e4f1a9c3b7d5"
down_revision: str | None = "c5b81e7d2a64"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("told_at", bot.store.types.UTCDateTime(timezone=True), nullable=True)
        )
    # Answers decided before this revision were told the old way: none is told again.
    op.execute(
        "UPDATE answer SET told_at = COALESCE(graded_at, created_at) WHERE status <> 'pending'"
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("answer", schema=None) as batch_op:
        batch_op.drop_column("told_at")
