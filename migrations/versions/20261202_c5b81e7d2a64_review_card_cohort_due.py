"""review card cohort due: count a cohort's members with reviews due for the daily post

Revision ID: c5b81e7d2a64
Revises: a7d3e1f09b42
Create Date: 2026-12-02 15:15:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "c5b81e7d2a64"
down_revision: str | None = "a7d3e1f09b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_review_card_cohort_due", "review_card", ["cohort_id", "due"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_review_card_cohort_due", table_name="review_card")
