"""dashboard: single-use sign-in links, the generated secret, public leaderboards, ledger by day

Revision ID: 7e2b9c41d0a6
Revises: 7a3c5e9b1d42
Create Date: 2026-12-02 12:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision: str = "7e2b9c41d0a6"
down_revision: str | None = "7a3c5e9b1d42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "dashboard_link",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dashboard_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dashboard_link_cohort_id"), ["cohort_id"], unique=False
        )
    op.create_table(
        "web_secret",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("created_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "cohort_web",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("leaderboard_public", sa.Boolean(), nullable=False),
        sa.Column("updated_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.PrimaryKeyConstraint("cohort_id"),
    )
    with op.batch_alter_table("points_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_points_event_cohort_day", ["cohort_id", "local_day"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("points_event", schema=None) as batch_op:
        batch_op.drop_index("ix_points_event_cohort_day")
    op.drop_table("cohort_web")
    op.drop_table("web_secret")
    with op.batch_alter_table("dashboard_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dashboard_link_cohort_id"))
    op.drop_table("dashboard_link")
