"""The points ledger and its rollups: one event per (member, reason, ref), written once.

`record_award` is the one way points are written. In the caller's unit of work it appends the
event (a duplicate is ignored by the unique key, so two processes awarding the same thing at once
write it once), and rolls it up into the member's day (their local day at the time) and their
standing (totals and streak), which the boards and stats read.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.domain import streaks
from bot.domain.scoring import KIND_OF_REASON, Reason, reason_of
from bot.store.models import Cohort, Member, MemberDay, MemberStanding, PointsEvent
from bot.store.types import utcnow

_MOCK_DONE = {Reason.MOCK_INTERVIEWER, Reason.MOCK_CANDIDATE}


def _insert(session: AsyncSession, table: Any) -> Any:
    bind = session.get_bind()
    module: Any = postgresql if bind.dialect.name == "postgresql" else sqlite
    return module.insert(table)


async def member_zone(session: AsyncSession, *, member_id: int) -> str:
    """Return the zone a member's days are counted in: their own, else their cohort's."""
    row = (
        await session.execute(
            select(Member.timezone, Cohort.timezone)
            .join(Cohort, col(Cohort.id) == col(Member.cohort_id))
            .where(col(Member.id) == member_id)
        )
    ).first()
    if row is None:
        return "UTC"
    return str(row[0] or row[1] or "UTC")


async def record_award(
    session: AsyncSession,
    *,
    cohort_id: int,
    member_id: int,
    reason: Reason | str,
    ref: str,
    points: int,
    local_day: date,
    at: datetime | None = None,
    kind: str | None = None,
) -> bool:
    """Append a ledger event once per (member, reason, ref) and roll it up; False if it existed."""
    reason = Reason(reason)
    at = at or utcnow()
    kind = kind or KIND_OF_REASON[reason]
    inserted = await session.execute(
        _insert(session, PointsEvent)
        .values(
            cohort_id=cohort_id,
            member_id=member_id,
            kind=kind,
            reason=reason.value,
            ref=ref,
            points=points,
            local_day=local_day,
            created_at=at,
        )
        .on_conflict_do_nothing(index_elements=["member_id", "reason", "ref"])
        .returning(col(PointsEvent.id))
    )
    if inserted.first() is None:
        return False
    zone = await member_zone(session, member_id=member_id)
    day = streaks.local_day(at, zone)
    counts = {
        "points": points,
        "answers": int(reason == Reason.ANSWER),
        "mocks": int(reason in _MOCK_DONE),
        "drills": int(reason == Reason.DRILL_PASSED),
    }
    day_insert = _insert(session, MemberDay).values(
        member_id=member_id,
        day=day,
        cohort_id=cohort_id,
        tz=zone,
        first_at=at,
        last_at=at,
        **counts,
    )
    table = MemberDay.__table__.c  # type: ignore[attr-defined]
    await session.execute(
        day_insert.on_conflict_do_update(
            index_elements=["member_id", "day"],
            set_={
                **{name: table[name] + day_insert.excluded[name] for name in counts},
                "last_at": day_insert.excluded.last_at,
            },
        )
    )
    standing_counts = {k: counts[k] for k in ("points", "mocks", "drills")}
    standing_insert = _insert(session, MemberStanding).values(
        member_id=member_id, cohort_id=cohort_id, last_at=at, **standing_counts
    )
    stable = MemberStanding.__table__.c  # type: ignore[attr-defined]
    await session.execute(
        standing_insert.on_conflict_do_update(
            index_elements=["member_id"],
            set_={
                **{n: stable[n] + standing_insert.excluded[n] for n in standing_counts},
                "last_at": standing_insert.excluded.last_at,
            },
        )
    )
    await refresh_streak(session, member_id=member_id)
    return True


async def award_points(
    session: AsyncSession,
    *,
    cohort_id: int,
    member_id: int,
    kind: str,
    ref: str,
    points: int,
    local_day: date,
    at: datetime | None = None,
    reason: Reason | str | None = None,
) -> bool:
    """Append a points event named by kind and ref (its reason read from them); False if known."""
    return await record_award(
        session,
        cohort_id=cohort_id,
        member_id=member_id,
        reason=reason or reason_of(kind, ref),
        ref=ref,
        points=points,
        local_day=local_day,
        at=at,
        kind=kind,
    )


async def active_days(session: AsyncSession, *, member_id: int) -> list[MemberDay]:
    """Return a member's active days in the order they happened."""
    result = await session.execute(
        select(MemberDay)
        .where(col(MemberDay.member_id) == member_id)
        .order_by(col(MemberDay.first_at), col(MemberDay.day))
    )
    return list(result.scalars().all())


async def refresh_streak(session: AsyncSession, *, member_id: int) -> streaks.Streak:
    """Recompute a member's streak from their active days and store it on their standing."""
    days = await active_days(session, member_id=member_id)
    streak = streaks.fold(streaks.ActiveDay(d.day, d.tz) for d in days)
    reached = next((d.first_at for d in days if d.day == streak.last_day), None)
    await session.execute(
        update(MemberStanding)
        .where(col(MemberStanding.member_id) == member_id)
        .values(
            streak=streak.run,
            longest=streak.longest,
            freezes=streak.freezes,
            streak_day=streak.last_day,
            streak_tz=streak.last_tz,
            streak_at=reached,
        )
        .execution_options(synchronize_session=False)
    )
    return streak


def stored_streak(standing: MemberStanding) -> streaks.Streak:
    """Return the streak kept on a standing row."""
    return streaks.Streak(
        standing.streak,
        standing.longest,
        standing.freezes,
        standing.streak_day,
        standing.streak_tz,
    )


async def get_standing(session: AsyncSession, *, member_id: int) -> MemberStanding | None:
    """Return a member's standing row, if they ever earned points or set a reminder."""
    return await session.get(MemberStanding, member_id)


async def set_remind_hour(
    session: AsyncSession, *, member_id: int, cohort_id: int, hour: int | None
) -> None:
    """Set (or clear, with None) a member's streak-reminder hour."""
    stmt = _insert(session, MemberStanding).values(
        member_id=member_id, cohort_id=cohort_id, remind_hour=hour
    )
    await session.execute(
        stmt.on_conflict_do_update(index_elements=["member_id"], set_={"remind_hour": hour})
    )
