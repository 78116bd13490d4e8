"""points ledger keyed by (member, reason, ref) at the weighted rule; day and standing rollups;
the spaced-review deck

Events written before this revision paid 10 x score per answer; they are rescaled by the bank
difficulty weight of their question (W1, M2, H3, S4; M without a bank link), which the new rule
applies to the same rounded score, so the rescale is exact. The rollups are rebuilt from the
ledger.

Revision ID: 7c4e2a91d5f3
Revises: 5d1e7a3c9b20
Create Date: 2026-12-02 12:30:00.000000
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
import sqlmodel
from alembic import op

import bot.store.types

revision: str = "7c4e2a91d5f3"
down_revision: str | None = "5d1e7a3c9b20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _aware(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _difficulties(bind: Any) -> dict[str, str | None]:
    """Return the difficulty tag of every question an answer or review names."""
    from bot.domain.scoring import difficulty_of

    qids = {r[0] for r in bind.execute(sa.text("SELECT DISTINCT question_id FROM answer"))}
    qids |= {r[0] for r in bind.execute(sa.text("SELECT DISTINCT question_id FROM grade_review"))}
    if not qids:
        return {}
    from content import load_library

    library = load_library()
    tags: dict[str, str | None] = {}
    for qid in qids:
        try:
            tags[qid] = difficulty_of(library.find_question(qid))
        except Exception:  # an id the content no longer knows counts as M
            tags[qid] = None
    return tags


def _rewrite_events(bind: Any) -> None:
    """Give every event its reason and rescale answer points to the weighted rule."""
    from bot.domain.scoring import reason_of, rescaled_answer_points

    rows = bind.execute(sa.text("SELECT id, kind, ref, points FROM points_event")).all()
    if not rows:
        return
    tags = _difficulties(bind)
    answers = dict(bind.execute(sa.text("SELECT id, question_id FROM answer")).all())
    reviews = dict(bind.execute(sa.text("SELECT id, question_id FROM grade_review")).all())
    for event_id, kind, ref, points in rows:
        reason = reason_of(kind, ref)
        prefix, _, number = ref.partition(":")
        qid = None
        if prefix == "answer" and number.isdigit():
            qid = answers.get(int(number))
        elif prefix == "review" and number.isdigit():
            qid = reviews.get(int(number))
        if reason.value in ("answer", "correction"):
            points = rescaled_answer_points(points, tags.get(qid) if qid else None)
        bind.execute(
            sa.text("UPDATE points_event SET reason = :reason, points = :points WHERE id = :id"),
            {"reason": reason.value, "points": points, "id": event_id},
        )


def _rebuild_rollups(bind: Any) -> None:
    """Fill member_day and member_standing from the ledger (each event in its member's zone)."""
    from bot.domain import streaks

    zones = {
        member_id: own or cohort_zone or "UTC"
        for member_id, own, cohort_zone in bind.execute(
            sa.text(
                "SELECT member.id, member.timezone, cohort.timezone FROM member "
                "JOIN cohort ON cohort.id = member.cohort_id"
            )
        )
    }
    events = bind.execute(
        sa.text(
            "SELECT member_id, cohort_id, reason, points, created_at FROM points_event "
            "ORDER BY created_at, id"
        )
    ).all()
    days: dict[tuple[int, Any], dict[str, Any]] = {}
    totals: dict[int, dict[str, Any]] = {}
    order: dict[int, list[Any]] = defaultdict(list)
    for member_id, cohort_id, reason, points, created_at in events:
        at = _aware(created_at)
        zone = zones.get(member_id, "UTC")
        day = streaks.local_day(at, zone)
        key = (member_id, day)
        if key not in days:
            days[key] = {
                "member_id": member_id,
                "day": day,
                "cohort_id": cohort_id,
                "tz": zone,
                "points": 0,
                "answers": 0,
                "mocks": 0,
                "drills": 0,
                "first_at": at,
                "last_at": at,
            }
            order[member_id].append(day)
        row = days[key]
        mock = reason in ("mock_interviewer", "mock_candidate")
        row["points"] += points
        row["answers"] += reason == "answer"
        row["mocks"] += mock
        row["drills"] += reason == "drill_passed"
        row["last_at"] = at
        total = totals.setdefault(
            member_id,
            {"member_id": member_id, "cohort_id": cohort_id, "points": 0, "mocks": 0, "drills": 0},
        )
        total["points"] += points
        total["mocks"] += mock
        total["drills"] += reason == "drill_passed"
        total["last_at"] = at
    if days:
        op.bulk_insert(
            sa.table("member_day", *(sa.column(k) for k in next(iter(days.values())))),
            list(days.values()),
        )
    standings = []
    for member_id, total in totals.items():
        member_days = [days[(member_id, d)] for d in order[member_id]]
        streak = streaks.fold(streaks.ActiveDay(d["day"], d["tz"]) for d in member_days)
        reached = next((d["first_at"] for d in member_days if d["day"] == streak.last_day), None)
        standings.append(
            {
                **total,
                "streak": streak.run,
                "longest": streak.longest,
                "freezes": streak.freezes,
                "streak_day": streak.last_day,
                "streak_tz": streak.last_tz,
                "streak_at": reached,
            }
        )
    if standings:
        op.bulk_insert(
            sa.table("member_standing", *(sa.column(k) for k in standings[0])), standings
        )


def upgrade() -> None:
    """Apply this revision."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    with op.batch_alter_table("points_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "reason",
                sqlmodel.sql.sqltypes.AutoString(length=24),
                nullable=False,
                server_default="",
            )
        )
    _rewrite_events(bind)
    old_unique = (
        "uq_points_event_cohort_id" if sqlite else "points_event_cohort_id_member_id_ref_key"
    )
    with op.batch_alter_table(
        "points_event", schema=None, naming_convention=_SQLITE_NAMES if sqlite else None
    ) as batch_op:
        batch_op.drop_constraint(old_unique, type_="unique")
        batch_op.create_unique_constraint(
            "uq_points_event_member_reason_ref", ["member_id", "reason", "ref"]
        )
        batch_op.create_index(
            "ix_points_event_cohort_created", ["cohort_id", "created_at"], unique=False
        )

    op.create_table(
        "member_day",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("answers", sa.Integer(), nullable=False),
        sa.Column("mocks", sa.Integer(), nullable=False),
        sa.Column("drills", sa.Integer(), nullable=False),
        sa.Column("first_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("member_id", "day"),
    )
    op.create_index("ix_member_day_cohort_day", "member_day", ["cohort_id", "day"], unique=False)
    op.create_table(
        "member_standing",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("mocks", sa.Integer(), nullable=False),
        sa.Column("drills", sa.Integer(), nullable=False),
        sa.Column("last_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("streak", sa.Integer(), nullable=False),
        sa.Column("longest", sa.Integer(), nullable=False),
        sa.Column("freezes", sa.Integer(), nullable=False),
        sa.Column("streak_day", sa.Date(), nullable=True),
        sa.Column("streak_tz", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("streak_at", bot.store.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("remind_hour", sa.Integer(), nullable=True),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("member_id"),
    )
    op.create_index(
        "ix_member_standing_cohort_points", "member_standing", ["cohort_id", "points"], unique=False
    )
    op.create_table(
        "review_card",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("cohort_id", sa.Integer(), nullable=False),
        sa.Column("question_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("due", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_rating", sa.Integer(), nullable=True),
        sa.Column("reviews", sa.Integer(), nullable=False),
        sa.Column("updated_at", bot.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["cohort_id"], ["cohort.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("member_id", "question_id"),
    )
    op.create_index("ix_review_card_member_due", "review_card", ["member_id", "due"], unique=False)
    _rebuild_rollups(bind)


def downgrade() -> None:
    """Revert this revision (events go back to the unweighted rule)."""
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    old_unique = (
        "uq_points_event_cohort_id" if sqlite else "points_event_cohort_id_member_id_ref_key"
    )
    op.drop_index("ix_review_card_member_due", table_name="review_card")
    op.drop_table("review_card")
    op.drop_index("ix_member_standing_cohort_points", table_name="member_standing")
    op.drop_table("member_standing")
    op.drop_index("ix_member_day_cohort_day", table_name="member_day")
    op.drop_table("member_day")
    tags = _difficulties(bind)
    answers = dict(bind.execute(sa.text("SELECT id, question_id FROM answer")).all())
    reviews = dict(bind.execute(sa.text("SELECT id, question_id FROM grade_review")).all())
    from bot.domain.scoring import difficulty_weight

    for event_id, ref, points, reason in bind.execute(
        sa.text("SELECT id, ref, points, reason FROM points_event")
    ).all():
        if reason not in ("answer", "correction"):
            continue
        prefix, _, number = ref.partition(":")
        source = answers if prefix == "answer" else reviews
        qid = source.get(int(number)) if number.isdigit() else None
        weight = difficulty_weight(tags.get(qid) if qid else None)
        bind.execute(
            sa.text("UPDATE points_event SET points = :points WHERE id = :id"),
            {"points": points // weight, "id": event_id},
        )
    with op.batch_alter_table(
        "points_event", schema=None, naming_convention=_SQLITE_NAMES if sqlite else None
    ) as batch_op:
        batch_op.drop_index("ix_points_event_cohort_created")
        batch_op.drop_constraint("uq_points_event_member_reason_ref", type_="unique")
        batch_op.create_unique_constraint(old_unique, ["cohort_id", "member_id", "ref"])
        batch_op.drop_column("reason")
