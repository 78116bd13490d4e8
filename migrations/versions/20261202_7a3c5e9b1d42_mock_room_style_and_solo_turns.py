"""Mock rooms: booked rooms, per-cohort room style, solo-mock transcripts

Revision ID: 7a3c5e9b1d42
Revises: 7a3e9c1d5b42
Create Date: 2026-12-02 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision: str = "7a3c5e9b1d42"
down_revision: str | None = "7a3e9c1d5b42"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = bot.store.types.UTCDateTime(timezone=True)


def _str(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("booked", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        batch_op.alter_column("booked", server_default=None)
    op.create_table(
        "mock_cohort_setting",
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("room_style", _str(16), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.PrimaryKeyConstraint("cohort_id"),
    )
    op.create_table(
        "mock_turn",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("key", _str(48), nullable=False),
        sa.Column("speaker", _str(16), nullable=False),
        sa.Column("phase", _str(32), nullable=False),
        sa.Column("minute", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", _str(32), nullable=False),
        sa.Column("engine", _str(16), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["mock_room.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("room_id", "key"),
    )
    with op.batch_alter_table("mock_turn", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mock_turn_room_id"), ["room_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("mock_turn", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mock_turn_room_id"))
    op.drop_table("mock_turn")
    op.drop_table("mock_cohort_setting")
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        batch_op.drop_column("booked")
