"""submissions: device kind, task id, dispatch count, timing and whether the member was told

Revision ID: 5d1e7a3c9b20
Revises: 316c95b8183a
Create Date: 2026-12-02 10:05:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "5d1e7a3c9b20"
down_revision: str | None = "316c95b8183a"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "device_kind",
                sqlmodel.sql.sqltypes.AutoString(length=64),
                nullable=False,
                server_default="cpu",
            )
        )
        batch_op.add_column(
            sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("dispatches", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("time_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("noise_s", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("speedup", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("notified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("reply_to", sa.JSON(), nullable=False, server_default="{}"))
        batch_op.create_index(
            batch_op.f("ix_submission_device_kind"), ["device_kind"], unique=False
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_submission_device_kind"))
        for name in (
            "reply_to",
            "notified",
            "speedup",
            "noise_s",
            "time_s",
            "last_error",
            "dispatches",
            "task_id",
            "device_kind",
        ):
            batch_op.drop_column(name)
