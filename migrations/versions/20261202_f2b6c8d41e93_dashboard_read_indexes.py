"""dashboard read indexes: who was active since a day from indexes alone; a member's mocks

Revision ID: f2b6c8d41e93
Revises: e4f1a9c3b7d5
Create Date: 2026-12-02 23:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "f2b6c8d41e93"
down_revision: str | None = "e4f1a9c3b7d5"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    # The new day index first, then the old one goes: the boards always have one to read.
    op.create_index(
        "ix_member_day_cohort_day_member",
        "member_day",
        ["cohort_id", "day", "member_id"],
        unique=False,
    )
    op.drop_index("ix_member_day_cohort_day", table_name="member_day")
    op.create_index(
        "ix_answer_cohort_created", "answer", ["cohort_id", "created_at", "member_id"], unique=False
    )
    op.create_index("ix_mock_room_interviewer", "mock_room", ["interviewer_id"], unique=False)
    op.create_index("ix_mock_room_candidate", "mock_room", ["candidate_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_mock_room_candidate", table_name="mock_room")
    op.drop_index("ix_mock_room_interviewer", table_name="mock_room")
    op.drop_index("ix_answer_cohort_created", table_name="answer")
    op.create_index("ix_member_day_cohort_day", "member_day", ["cohort_id", "day"], unique=False)
    op.drop_index("ix_member_day_cohort_day_member", table_name="member_day")
