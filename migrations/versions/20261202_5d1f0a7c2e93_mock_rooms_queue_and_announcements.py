"""Mock rooms: queue, room state for the pacing timer, announcements made once

Revision ID: 5d1f0a7c2e93
Revises: 1b854982f301
Create Date: 2026-12-02 09:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision: str = "5d1f0a7c2e93"
down_revision: str | None = "1b854982f301"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = bot.store.types.UTCDateTime(timezone=True)


def _str(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", _str(24), nullable=False, server_default="system-design")
        )
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("previous_room_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("scenario_id", _str(64), nullable=True))
        batch_op.add_column(
            sa.Column("platform", _str(16), nullable=False, server_default="console")
        )
        batch_op.add_column(sa.Column("workspace_id", _str(64), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("channel_id", _str(64), nullable=True))
        batch_op.add_column(sa.Column("voice_channel_id", _str(64), nullable=True))
        batch_op.add_column(sa.Column("status_message_id", _str(64), nullable=True))
        batch_op.add_column(
            sa.Column("paused_spans", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("extensions", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("confirmed", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("matched_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("last_activity_at", _TS, nullable=True))
        batch_op.add_column(sa.Column("last_new_message_at", _TS, nullable=True))
    # Server defaults only fill existing rows; the models set every value themselves.
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        for name in (
            "kind",
            "round",
            "platform",
            "workspace_id",
            "paused_spans",
            "extensions",
            "confirmed",
        ):
            batch_op.alter_column(name, server_default=None)

    op.create_table(
        "mock_queue_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", _str(24), nullable=False),
        sa.Column("queued_at", _TS, nullable=False),
        sa.Column("front", sa.Boolean(), nullable=False),
        sa.Column("slot_at", _TS, nullable=True),
        sa.Column("reply_to", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("cohort_id", "member_id"),
    )
    with op.batch_alter_table("mock_queue_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mock_queue_entry_cohort_id"), ["cohort_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mock_queue_entry_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "mock_announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("room_id", sa.Integer(), nullable=False),
        sa.Column("key", _str(48), nullable=False),
        sa.Column("kind", _str(16), nullable=False),
        sa.Column("phase", _str(32), nullable=False),
        sa.Column("status", _str(16), nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("sent_at", _TS, nullable=False),
        sa.Column("holder", _str(100), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["room_id"], ["mock_room.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("room_id", "key"),
    )
    with op.batch_alter_table("mock_announcement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mock_announcement_room_id"), ["room_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("mock_announcement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mock_announcement_room_id"))
    op.drop_table("mock_announcement")
    with op.batch_alter_table("mock_queue_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mock_queue_entry_member_id"))
        batch_op.drop_index(batch_op.f("ix_mock_queue_entry_cohort_id"))
    op.drop_table("mock_queue_entry")
    with op.batch_alter_table("mock_room", schema=None) as batch_op:
        for name in (
            "last_new_message_at",
            "last_activity_at",
            "matched_at",
            "confirmed",
            "extensions",
            "paused_spans",
            "status_message_id",
            "voice_channel_id",
            "channel_id",
            "workspace_id",
            "platform",
            "scenario_id",
            "previous_room_id",
            "round",
            "kind",
        ):
            batch_op.drop_column(name)
