"""Queries the leaderboards, stats and recap read: all from the ledger's rollups."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, Integer, Row, bindparam, case, cast, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.domain import streaks
from bot.messages import Channel
from bot.store.json_rows import json_rows
from bot.store.models import (
    Answer,
    Cohort,
    Grade,
    Member,
    MemberDay,
    MemberStanding,
    PointsEvent,
)

COUNTED = {"points": "points", "mocks": "mocks", "drills": "drills"}


async def totals_since(
    session: AsyncSession, *, cohort_id: int, metric: str, since: date
) -> list[tuple[int, int, datetime]]:
    """Return (member id, total, when it was reached) of a count over the days since `since`."""
    column = getattr(MemberDay, COUNTED[metric])
    total = func.sum(column)
    result = await session.execute(
        select(col(MemberDay.member_id), total, func.max(col(MemberDay.last_at)))
        .where(col(MemberDay.cohort_id) == cohort_id, col(MemberDay.day) >= since)
        .group_by(col(MemberDay.member_id))
        .having(total > 0)
    )
    return [(int(m), int(v), at) for m, v, at in result.all()]


async def totals_all_time(
    session: AsyncSession, *, cohort_id: int, metric: str
) -> list[tuple[int, int, datetime | None]]:
    """Return (member id, all-time total, when it was reached) of a count."""
    column = getattr(MemberStanding, COUNTED[metric])
    result = await session.execute(
        select(col(MemberStanding.member_id), column, col(MemberStanding.last_at)).where(
            col(MemberStanding.cohort_id) == cohort_id, column > 0
        )
    )
    return [(int(m), int(v), at) for m, v, at in result.all()]


def _board(*, cohort_id: int, metric: str, since: date | None) -> Any:
    """Return a board's rows ranked in SQL: (member id, value, reached at, rank, how many).

    The order is `rules.rank`'s: the higher value first, then who reached it first (never
    reached last), then the member id, so every member has a place of their own. SQLite (3.25
    and later) and PostgreSQL both number rows by a window, so the whole board is ranked by
    the database instead of ten thousand rows being fetched and sorted in Python.
    """
    if since is None:
        value: Any = getattr(MemberStanding, COUNTED[metric])
        rows = select(
            col(MemberStanding.member_id).label("member_id"),
            value.label("value"),
            col(MemberStanding.last_at).label("reached_at"),
        ).where(col(MemberStanding.cohort_id) == cohort_id, value > 0)
    else:
        value = func.sum(getattr(MemberDay, COUNTED[metric]))
        rows = (
            select(
                col(MemberDay.member_id).label("member_id"),
                value.label("value"),
                func.max(col(MemberDay.last_at)).label("reached_at"),
            )
            .where(col(MemberDay.cohort_id) == cohort_id, col(MemberDay.day) >= since)
            .group_by(col(MemberDay.member_id))
            .having(value > 0)
        )
    board = rows.subquery("board")
    order = (
        board.c.value.desc(),
        case((board.c.reached_at.is_(None), 1), else_=0),
        board.c.reached_at,
        board.c.member_id,
    )
    return select(
        board.c.member_id,
        board.c.value,
        board.c.reached_at,
        func.row_number().over(order_by=order).label("rank"),
        func.count().over().label("ranked"),
    ).subquery("ranked")


async def ranked_top(
    session: AsyncSession, *, cohort_id: int, metric: str, since: date | None, limit: int
) -> tuple[list[tuple[int, int, str, int, datetime | None]], int]:
    """Return a board's first rows (rank, member id, name, value, reached at) and its length.

    One statement: the ranking, the names of the rows shown and the count of ranked members.
    """
    ranked = _board(cohort_id=cohort_id, metric=metric, since=since)
    conn = await session.connection()
    result = await conn.execute(
        select(
            ranked.c.rank,
            ranked.c.member_id,
            func.coalesce(col(Member.display_name), col(Member.platform_user_id)),
            ranked.c.value,
            ranked.c.reached_at,
            ranked.c.ranked,
        )
        .join(Member, col(Member.id) == ranked.c.member_id)
        .where(ranked.c.rank <= limit)
        .order_by(ranked.c.rank)
    )
    rows = result.all()
    total = int(rows[0][5]) if rows else 0
    return [(int(r), int(m), str(n), int(v), at) for r, m, n, v, at, _ in rows], total


async def ranked_place(
    session: AsyncSession, *, cohort_id: int, metric: str, since: date | None, member_id: int
) -> tuple[int, int, datetime | None] | None:
    """Return a member's (rank, value, reached at) on a board; None when not on it."""
    ranked = _board(cohort_id=cohort_id, metric=metric, since=since)
    conn = await session.connection()
    row = (
        await conn.execute(
            select(ranked.c.rank, ranked.c.value, ranked.c.reached_at).where(
                ranked.c.member_id == member_id
            )
        )
    ).first()
    return (int(row[0]), int(row[1]), row[2]) if row is not None else None


# Made once: a statement built on new aliases at every call is compiled again at every call.
_MINE = aliased(MemberStanding, name="mine")
_OTHER = aliased(MemberStanding, name="other")


def points_rank_of(member_id: Any, cohort_id: Any) -> Any:
    """Return a scalar subquery: a member's all-time points rank, None when unranked.

    It counts who is ahead in `rules.rank`'s order (more points; then reached earlier, never
    last; then the lower member id) on the cohort-and-points index, so a page can carry its
    member's rank in the statement it reads anyway, without ranking the whole cohort.
    """
    mine, other = _MINE, _OTHER
    same_time = (other.last_at == mine.last_at) | (other.last_at.is_(None) & mine.last_at.is_(None))
    earlier = (other.last_at < mine.last_at) | (other.last_at.is_not(None) & mine.last_at.is_(None))
    ahead = (
        select(func.count())
        .where(
            other.cohort_id == cohort_id,
            (other.points > mine.points)
            | (
                (other.points == mine.points)
                & (earlier | (same_time & (other.member_id < mine.member_id)))
            ),
        )
        .scalar_subquery()
    )
    return select(ahead + 1).where(mine.member_id == member_id, mine.points > 0).scalar_subquery()


_RANKED = aliased(MemberStanding, name="ranked")
_STATS_OF = bindparam("member_id", type_=Integer)
_STATS_DAYS = json_rows(
    select(
        col(MemberDay.day),
        col(MemberDay.points),
        col(MemberDay.answers),
        col(MemberDay.mocks),
        col(MemberDay.drills),
    ).where(col(MemberDay.member_id) == _STATS_OF)
)
_STATS_SCORES = json_rows(
    select(col(Answer.question_id), cast(func.max(col(Grade.score)), Float).label("score"))
    .join(Grade, col(Grade.answer_id) == col(Answer.id))
    .where(col(Answer.member_id) == _STATS_OF)
    .group_by(col(Answer.question_id))
)
# A member's stats in one statement, built once: the member and their cohort, the standing's
# totals and streak, the all-time rank and how many are ranked, and the days and best scores
# as JSON columns. Read six statements at a time, the stats of twenty members asked at once
# (twenty charts never drawn) took longer to read than to draw.
_MEMBER_STATS = (
    select(
        col(Member.display_name),
        col(Member.platform_user_id),
        col(Member.timezone).label("member_zone"),
        col(Member.cohort_id),
        col(Cohort.name).label("cohort_name"),
        col(Cohort.timezone).label("cohort_zone"),
        col(MemberStanding.member_id).label("standing_of"),
        col(MemberStanding.points),
        col(MemberStanding.mocks),
        col(MemberStanding.drills),
        col(MemberStanding.streak),
        col(MemberStanding.longest),
        col(MemberStanding.freezes),
        col(MemberStanding.streak_day),
        col(MemberStanding.streak_tz),
        # Counted in the standing's own cohort, which is the member's.
        points_rank_of(_STATS_OF, _MINE.cohort_id).label("rank"),
        select(func.count())
        .where(_RANKED.cohort_id == col(Member.cohort_id), _RANKED.points > 0)
        .scalar_subquery()
        .label("members_ranked"),
        _STATS_DAYS.label("days"),
        _STATS_SCORES.label("scores"),
    )
    .join_from(Member, Cohort, col(Cohort.id) == col(Member.cohort_id))
    .outerjoin(MemberStanding, col(MemberStanding.member_id) == col(Member.id))
    .where(col(Member.id) == _STATS_OF)
)


@dataclass(frozen=True)
class StatsRow:
    """What a member's stats are made of, as read in one statement."""

    name: str
    zone: str
    cohort_id: int
    cohort_name: str
    standing: Row[Any] | None  # points, mocks, drills and the stored streak's fields
    rank: int | None
    members_ranked: int
    days: list[Any]  # (day, points, answers, mocks, drills), oldest first
    scores: list[tuple[str, float]]  # (question, best score)


async def member_stats_row(session: AsyncSession, *, member_id: int) -> StatsRow | None:
    """Return what a member's stats show, in one round trip; None when there is no member."""
    conn = await session.connection()
    row = (await conn.execute(_MEMBER_STATS, {"member_id": member_id})).first()
    if row is None:
        return None
    return StatsRow(
        name=row.display_name or row.platform_user_id,
        zone=row.member_zone or row.cohort_zone,
        cohort_id=int(row.cohort_id),
        cohort_name=row.cohort_name,
        standing=row if row.standing_of is not None else None,
        rank=int(row.rank) if row.rank is not None else None,
        members_ranked=int(row.members_ranked or 0),
        days=sorted(_STATS_DAYS.parse(row.days), key=lambda d: d.day),
        scores=[
            (str(s.question_id), float(s.score))
            for s in _STATS_SCORES.parse(row.scores)
            if s.score is not None
        ],
    )


async def cohort_streaks(
    session: AsyncSession, *, cohort_id: int
) -> list[tuple[int, streaks.Streak, datetime | None]]:
    """Return (member id, stored streak, when the run reached its length) of a cohort's members."""
    result = await session.execute(
        select(
            col(MemberStanding.member_id),
            col(MemberStanding.streak),
            col(MemberStanding.longest),
            col(MemberStanding.freezes),
            col(MemberStanding.streak_day),
            col(MemberStanding.streak_tz),
            col(MemberStanding.streak_at),
        ).where(col(MemberStanding.cohort_id) == cohort_id)
    )
    return [
        (int(m), streaks.Streak(run, longest, freezes, day, tz), at)
        for m, run, longest, freezes, day, tz, at in result.all()
    ]


async def cohort_standings(session: AsyncSession, *, cohort_id: int) -> list[MemberStanding]:
    """Return every standing row of a cohort (streak boards and the recap read them)."""
    result = await session.execute(
        select(MemberStanding).where(col(MemberStanding.cohort_id) == cohort_id)
    )
    return list(result.scalars().all())


async def member_names(
    session: AsyncSession, *, member_ids: Sequence[int]
) -> dict[int, tuple[str, str | None]]:
    """Return {member id: (name to show, own zone)} for some members."""
    if not member_ids:
        return {}
    result = await session.execute(
        select(
            col(Member.id), col(Member.display_name), col(Member.platform_user_id), Member.timezone
        ).where(col(Member.id).in_(list(member_ids)))
    )
    return {int(i): (name or uid, tz) for i, name, uid, tz in result.all()}


async def graded_since(
    session: AsyncSession, *, cohort_id: int, since: datetime, until: datetime
) -> list[tuple[str, float]]:
    """Return (question id, score) of every grade in a cohort between two instants."""
    result = await session.execute(
        select(col(Answer.question_id), col(Grade.score))
        .join(Grade, col(Grade.answer_id) == col(Answer.id))
        .where(
            col(Answer.cohort_id) == cohort_id,
            col(Grade.created_at) >= since,
            col(Grade.created_at) < until,
        )
    )
    return [(str(q), float(s)) for q, s in result.all()]


async def find_member(
    session: AsyncSession, *, cohort_id: int | None, reference: str
) -> list[Member]:
    """Return members whose user id or display name is `reference` (in one cohort, or any)."""
    query: Any = select(Member).where(
        (col(Member.platform_user_id) == reference) | (col(Member.display_name) == reference)
    )
    if cohort_id is not None:
        query = query.where(col(Member.cohort_id) == cohort_id)
    return list((await session.execute(query)).scalars().all())


async def totals_between(
    session: AsyncSession, *, cohort_id: int, start: date, end: date
) -> list[tuple[int, int, datetime]]:
    """Return (member id, points, when reached) over the local days from `start` to `end`."""
    total = func.sum(col(MemberDay.points))
    result = await session.execute(
        select(col(MemberDay.member_id), total, func.max(col(MemberDay.last_at)))
        .where(
            col(MemberDay.cohort_id) == cohort_id,
            col(MemberDay.day) >= start,
            col(MemberDay.day) <= end,
        )
        .group_by(col(MemberDay.member_id))
        .having(total > 0)
    )
    return [(int(m), int(v), at) for m, v, at in result.all()]


async def daily_points(
    session: AsyncSession, *, cohort_id: int, start: date, end: date
) -> list[tuple[date, int]]:
    """Return (local day, points the cohort earned) from `start` to `end`."""
    result = await session.execute(
        select(col(MemberDay.day), func.sum(col(MemberDay.points)))
        .where(
            col(MemberDay.cohort_id) == cohort_id,
            col(MemberDay.day) >= start,
            col(MemberDay.day) <= end,
        )
        .group_by(col(MemberDay.day))
    )
    return [(d, int(p)) for d, p in result.all()]


async def reason_counts(
    session: AsyncSession, *, cohort_id: int, reason: str, since: datetime, until: datetime
) -> list[tuple[int, int]]:
    """Return (member id, events) of one ledger reason in a cohort between two instants."""
    result = await session.execute(
        select(col(PointsEvent.member_id), func.count())
        .where(
            col(PointsEvent.cohort_id) == cohort_id,
            col(PointsEvent.reason) == reason,
            col(PointsEvent.created_at) >= since,
            col(PointsEvent.created_at) < until,
        )
        .group_by(col(PointsEvent.member_id))
    )
    return [(int(m), int(n)) for m, n in result.all()]


async def reminder_candidates(session: AsyncSession) -> list[tuple[MemberStanding, Member, Cohort]]:
    """Return every opted-in member's standing with their membership and cohort."""
    result = await session.execute(
        select(MemberStanding, Member, Cohort)
        .join(Member, col(Member.id) == col(MemberStanding.member_id))
        .join(Cohort, col(Cohort.id) == col(Member.cohort_id))
        .where(col(MemberStanding.remind_hour).is_not(None), col(Member.active).is_(True))
    )
    return [(s, m, c) for s, m, c in result.all()]


async def mark_reminded(session: AsyncSession, *, member_id: int, day: date) -> bool:
    """Note that a member was reminded on a local day; False if someone already did."""
    result = await session.execute(
        update(MemberStanding)
        .where(
            col(MemberStanding.member_id) == member_id,
            (col(MemberStanding.reminded_on).is_(None)) | (col(MemberStanding.reminded_on) != day),
        )
        .values(reminded_on=day)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def cohort_and_member_in(
    session: AsyncSession, *, channel: Channel, platform_user_id: str
) -> tuple[Cohort | None, int | None]:
    """Return the cohort bound to a channel and the user's member id in it, in one query."""
    result = await session.execute(
        select(Cohort, col(Member.id))
        .outerjoin(
            Member,
            (col(Member.cohort_id) == col(Cohort.id))
            & (col(Member.platform_user_id) == platform_user_id),
        )
        .where(
            col(Cohort.platform) == channel.platform,
            col(Cohort.workspace_id) == channel.workspace_id,
            col(Cohort.channel_id) == channel.channel_id,
        )
    )
    row = result.first()
    if row is None:
        return None, None
    return row[0], (int(row[1]) if row[1] is not None else None)
