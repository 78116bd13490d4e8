"""The dashboard's reads, and its sign-in links, generated secret and public-board choice.

Every function is keyword-only, takes the session and never commits: the dashboard service's
unit of work commits once. The pages only read; the writes here are the link's single use,
the secret generated once, and a cohort's choice of a public leaderboard.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Float,
    Integer,
    Row,
    bindparam,
    cast,
    func,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from bot.store.json_rows import JsonRows, json_rows
from bot.store.models import (
    Answer,
    Cohort,
    CohortWeb,
    DashboardLink,
    DayPost,
    Grade,
    Member,
    MemberDay,
    MemberStanding,
    MockRoom,
    PointsEvent,
    Submission,
    WebSecret,
)
from bot.store.standings import points_rank_of

# --- links, secret, choices ------------------------------------------------------------------


async def add_link(session: AsyncSession, *, link: DashboardLink) -> DashboardLink:
    """Record an issued sign-in link."""
    session.add(link)
    await session.flush()
    return link


async def get_link(session: AsyncSession, *, link_id: str) -> DashboardLink | None:
    """Return an issued link by its nonce."""
    return await session.get(DashboardLink, link_id)


async def use_link(session: AsyncSession, *, link_id: str, now: datetime) -> bool:
    """Mark an unexpired, unused link used; False when another request used it first.

    One conditional UPDATE, so two processes opening the same link cannot both succeed.
    """
    result = await session.execute(
        update(DashboardLink)
        .where(
            col(DashboardLink.id) == link_id,
            col(DashboardLink.used_at).is_(None),
            col(DashboardLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_secret(session: AsyncSession, *, name: str) -> str | None:
    """Return a generated secret by name."""
    row = await session.get(WebSecret, name)
    return row.value if row is not None else None


async def add_secret(session: AsyncSession, *, name: str, value: str) -> None:
    """Store a generated secret (a second writer's insert fails on the primary key)."""
    session.add(WebSecret(name=name, value=value))
    await session.flush()


async def leaderboard_public(session: AsyncSession, *, cohort_id: int) -> bool:
    """Tell whether a cohort opted in to a public leaderboard page."""
    row = await session.get(CohortWeb, cohort_id)
    return bool(row and row.leaderboard_public)


async def set_leaderboard_public(
    session: AsyncSession, *, cohort_id: int, public: bool, now: datetime
) -> None:
    """Record whether a cohort's leaderboard is a public page."""
    row = await session.get(CohortWeb, cohort_id)
    if row is None:
        row = CohortWeb(cohort_id=cohort_id)
    row.leaderboard_public = public
    row.updated_at = now
    session.add(row)
    await session.flush()


# --- what changed ------------------------------------------------------------------------------


def _version_columns() -> tuple[Any, Any]:
    return (
        select(func.max(PointsEvent.id)).scalar_subquery(),
        select(func.max(Grade.id)).scalar_subquery(),
    )


async def data_version(session: AsyncSession) -> tuple[int, int]:
    """Return the newest ledger entry and the newest grade (two primary-key lookups).

    Everything the dashboard caches is read from the ledger or the grades, and every source of
    points (an answer, a mock, a drill) appends to the ledger, so a result cached under this
    version is fresh exactly while the version stands.
    """
    row = (await session.execute(select(*_version_columns()))).one()
    return int(row[0] or 0), int(row[1] or 0)


_MEMBER = bindparam("member_id", type_=Integer)
_COHORT = bindparam("cohort_id", type_=Integer)

_VIEWER = (
    select(Cohort, Member, *_version_columns())
    .join_from(Cohort, Member, col(Member.cohort_id) == col(Cohort.id))
    .where(col(Cohort.id) == _COHORT, col(Member.id) == _MEMBER)
)


async def viewer_of(
    session: AsyncSession, *, cohort_id: int, member_id: int
) -> tuple[Cohort, Member, tuple[int, int]] | None:
    """Return a cohort, its member and the data version in one statement; None when either
    is missing or the member belongs to another cohort.

    Every page asks this first, so it is one round trip rather than three, on a statement
    built once.
    """
    row = (await session.execute(_VIEWER, {"cohort_id": cohort_id, "member_id": member_id})).first()
    if row is None:
        return None
    return row[0], row[1], (int(row[2] or 0), int(row[3] or 0))


# --- cohort ----------------------------------------------------------------------------------


async def member_names(
    session: AsyncSession, *, member_ids: Sequence[int]
) -> dict[int, tuple[str, bool]]:
    """Return id -> (shown name, active) for these members."""
    if not member_ids:
        return {}
    result = await session.execute(
        select(Member.id, Member.display_name, Member.platform_user_id, Member.active).where(
            col(Member.id).in_(list(member_ids))
        )
    )
    return {row[0]: (row[1] or row[2], bool(row[3])) for row in result.all()}


async def count_members(session: AsyncSession, *, cohort_id: int) -> int:
    """Return how many active members a cohort has."""
    result = await session.execute(
        select(func.count())
        .select_from(Member)
        .where(Member.cohort_id == cohort_id, col(Member.active).is_(True))
    )
    return int(result.scalar() or 0)


async def post_counts(session: AsyncSession, *, cohort_id: int) -> dict[str, int]:
    """Return the cohort's day posts counted by status (posted, missed, failed, claimed)."""
    result = await session.execute(
        select(DayPost.status, func.count())
        .where(DayPost.cohort_id == cohort_id)
        .group_by(DayPost.status)
    )
    return {str(status): int(n) for status, n in result.all()}


async def active_members_since(
    session: AsyncSession, *, cohort_id: int, since_day: date, since: datetime
) -> int:
    """Return how many members earned points, answered or submitted since then.

    Points are read from the standings' day rollup (one row per member and day, on its
    cohort-and-day index), not from the ledger's tens of thousands of events in a week.
    """
    ids = union(
        select(col(MemberDay.member_id)).where(
            col(MemberDay.cohort_id) == cohort_id, col(MemberDay.day) >= since_day
        ),
        select(Answer.member_id).where(
            Answer.cohort_id == cohort_id, col(Answer.created_at) >= since
        ),
        select(Submission.member_id).where(
            Submission.cohort_id == cohort_id, col(Submission.created_at) >= since
        ),
    ).subquery()
    result = await session.execute(
        select(func.count()).select_from(ids).where(ids.c.member_id.is_not(None))
    )
    return int(result.scalar() or 0)


async def points_by_day(
    session: AsyncSession, *, cohort_id: int, since_day: date
) -> list[tuple[date, int]]:
    """Return (day, points) a cohort earned since a day, in day order, from the day rollup."""
    result = await session.execute(
        select(col(MemberDay.day), func.sum(col(MemberDay.points)))
        .where(col(MemberDay.cohort_id) == cohort_id, col(MemberDay.day) >= since_day)
        .group_by(col(MemberDay.day))
        .order_by(col(MemberDay.day))
    )
    return [(day, int(total or 0)) for day, total in result.all()]


# --- a member ----------------------------------------------------------------------------------
# The member page reads columns, not ORM objects: building a few dozen model instances per view
# cost more CPU than the queries themselves. Its statements are built once, with bound
# parameters, so a view neither builds nor keys nor compiles them again (building a statement's
# expressions cost more CPU than running it), and they run on the session's connection: a read
# of plain columns needs none of the ORM's per-statement work.

_MEMBER_HEAD = (
    select(
        col(Member.cohort_id),
        col(Member.display_name),
        col(Member.platform_user_id),
        col(Member.timezone),
        col(MemberStanding.member_id).label("standing_of"),
        col(MemberStanding.points),
        col(MemberStanding.streak),
        col(MemberStanding.longest),
        col(MemberStanding.freezes),
        col(MemberStanding.streak_day),
        col(MemberStanding.streak_tz),
        points_rank_of(_MEMBER, _COHORT).label("rank"),
    )
    .outerjoin(MemberStanding, col(MemberStanding.member_id) == col(Member.id))
    .where(col(Member.id) == _MEMBER)
)

_SHOWN = aliased(Member, name="shown")
_SHOWN_STANDING = aliased(MemberStanding, name="shown_standing")
_TARGET = bindparam("target_id", type_=Integer)

# The viewer's check and the shown member's head in one statement, for the member page.
_VIEWER_AND_HEAD = (
    select(
        Cohort,
        Member,
        *_version_columns(),
        _SHOWN.id.label("shown_id"),
        _SHOWN.cohort_id.label("cohort_id"),
        _SHOWN.display_name.label("display_name"),
        _SHOWN.platform_user_id.label("platform_user_id"),
        _SHOWN.timezone.label("timezone"),
        _SHOWN_STANDING.member_id.label("standing_of"),
        _SHOWN_STANDING.points.label("points"),
        _SHOWN_STANDING.streak.label("streak"),
        _SHOWN_STANDING.longest.label("longest"),
        _SHOWN_STANDING.freezes.label("freezes"),
        _SHOWN_STANDING.streak_day.label("streak_day"),
        _SHOWN_STANDING.streak_tz.label("streak_tz"),
        points_rank_of(_TARGET, _COHORT).label("rank"),
    )
    .join_from(Cohort, Member, col(Member.cohort_id) == col(Cohort.id))
    .outerjoin(_SHOWN, (_SHOWN.id == _TARGET) & (_SHOWN.cohort_id == col(Cohort.id)))
    .outerjoin(_SHOWN_STANDING, _SHOWN_STANDING.member_id == _SHOWN.id)
    .where(col(Cohort.id) == _COHORT, col(Member.id) == _MEMBER)
)


async def viewer_and_member_head(
    session: AsyncSession, *, cohort_id: int, member_id: int, shown_id: int
) -> tuple[Cohort, Member, tuple[int, int], tuple[Row[Any], MemberBody] | None] | None:
    """Return `viewer_of`'s cohort, member and data version, with `member_head`'s row and lists
    of the member shown (None when not in this cohort); None when the viewer is not found.

    The whole member page as one round trip. The lists are read by the shown member's id
    alone and dropped, unread, when that member is not in the viewer's cohort.
    """
    row = (
        await session.execute(
            _VIEWER_HEAD_AND_BODY,
            {"cohort_id": cohort_id, "member_id": member_id, "target_id": shown_id},
        )
    ).first()
    if row is None:
        return None
    head = (row, _body_of(row, "target_id")) if row.shown_id is not None else None
    return row[0], row[1], (int(row[2] or 0), int(row[3] or 0)), head


_INTERVIEWER = aliased(Member, name="interviewer")
_CANDIDATE = aliased(Member, name="candidate")


def _answers(limit: int, param: str) -> Any:
    who = bindparam(param, type_=Integer)
    return (
        select(
            col(Answer.id),
            col(Answer.question_id),
            col(Answer.created_at),
            col(Answer.status),
            col(Answer.text),
            col(Grade.score),
            col(Grade.grader),
            col(Grade.feedback),
            col(Grade.points),
        )
        .outerjoin(Grade, col(Grade.answer_id) == col(Answer.id))
        .where(col(Answer.member_id) == who)
        .order_by(col(Answer.id).desc())
        .limit(limit)
    )


def _mocks(limit: int, param: str) -> Any:
    who = bindparam(param, type_=Integer)
    interviewer, candidate = _INTERVIEWER, _CANDIDATE
    return (
        select(
            col(MockRoom.id),
            col(MockRoom.kind),
            col(MockRoom.interviewer_id),
            col(MockRoom.candidate_id),
            col(MockRoom.finished_at),
            col(MockRoom.scorecard),
            func.coalesce(interviewer.display_name, interviewer.platform_user_id).label(
                "interviewer_name"
            ),
            func.coalesce(candidate.display_name, candidate.platform_user_id).label(
                "candidate_name"
            ),
        )
        .outerjoin(interviewer, interviewer.id == col(MockRoom.interviewer_id))
        .outerjoin(candidate, candidate.id == col(MockRoom.candidate_id))
        .where(
            or_(col(MockRoom.interviewer_id) == who, col(MockRoom.candidate_id) == who),
            col(MockRoom.finished_at).is_not(None),
        )
        .order_by(col(MockRoom.id).desc())
        .limit(limit)
    )


def _submissions(limit: int, param: str) -> Any:
    who = bindparam(param, type_=Integer)
    return (
        select(
            col(Submission.id),
            col(Submission.drill_id),
            col(Submission.device_kind),
            col(Submission.status),
            col(Submission.verdict),
            col(Submission.time_s),
            col(Submission.speedup),
            col(Submission.created_at),
            col(Submission.result),
            col(Submission.last_error),
        )
        .where(col(Submission.member_id) == who)
        .order_by(col(Submission.id).desc())
        .limit(limit)
    )


ANSWERS_SHOWN = 20
MOCKS_SHOWN = 30
SUBMISSIONS_SHOWN = 20


@functools.cache
def _body(param: str) -> tuple[JsonRows, ...]:
    """Return the member page's lists, each one JSON column, for the member bound to `param`.

    Days, best scores, answers, mocks and submissions come back with the head's row: the whole
    page is one round trip.
    """
    who = bindparam(param, type_=Integer)
    days = select(col(MemberDay.day), col(MemberDay.points)).where(col(MemberDay.member_id) == who)
    scores = (
        select(col(Answer.question_id), cast(func.max(col(Grade.score)), Float).label("score"))
        .join(Grade, col(Grade.answer_id) == col(Answer.id))
        .where(col(Answer.member_id) == who)
        .group_by(col(Answer.question_id))
    )
    return (
        json_rows(days),
        json_rows(scores),
        json_rows(_answers(ANSWERS_SHOWN, param)),
        json_rows(_mocks(MOCKS_SHOWN, param)),
        json_rows(_submissions(SUBMISSIONS_SHOWN, param)),
    )


@dataclass(frozen=True)
class MemberBody:
    """A member's page lists: (day, points) oldest first, (question, best score), and the
    latest answers, finished mocks and submissions, newest first."""

    days: list[tuple[date, int]]
    scores: list[tuple[str, float]]
    answers: list[Any]
    mocks: list[Any]
    submissions: list[Any]


def _body_of(row: Row[Any], param: str) -> MemberBody:
    days, scores, answers, mocks, subs = (
        column.parse(value) for column, value in zip(_body(param), row[-5:], strict=True)
    )
    return MemberBody(
        days=sorted((d.day, int(d.points)) for d in days),
        scores=[(str(s.question_id), float(s.score)) for s in scores if s.score is not None],
        answers=sorted(answers, key=lambda r: r.id, reverse=True),
        mocks=sorted(mocks, key=lambda r: r.id, reverse=True),
        submissions=sorted(subs, key=lambda r: r.id, reverse=True),
    )


_MEMBER_HEAD_AND_BODY = _MEMBER_HEAD.add_columns(*_body("member_id"))
_VIEWER_HEAD_AND_BODY = _VIEWER_AND_HEAD.add_columns(*_body("target_id"))


async def member_head(
    session: AsyncSession, *, member_id: int, cohort_id: int
) -> tuple[Row[Any], MemberBody] | None:
    """Return a member's name, cohort and zone, their standing's figures and all-time rank,
    with the page's lists, in one statement.

    The rank (None when unranked) is counted in the same statement, in the viewer's cohort.
    """
    conn = await session.connection()
    row = (
        await conn.execute(_MEMBER_HEAD_AND_BODY, {"member_id": member_id, "cohort_id": cohort_id})
    ).first()
    return (row, _body_of(row, "member_id")) if row is not None else None


# --- questions and drills ----------------------------------------------------------------------


async def hardest_questions(
    session: AsyncSession, *, cohort_id: int, min_answers: int = 1, limit: int = 20
) -> list[tuple[str, float, int]]:
    """Return (question id, average score, answers) of the lowest-scoring questions."""
    avg = func.avg(Grade.score).label("avg")
    result = await session.execute(
        select(Answer.question_id, avg, func.count().label("n"))
        .join(Grade, col(Grade.answer_id) == col(Answer.id))
        .where(Answer.cohort_id == cohort_id)
        .group_by(Answer.question_id)
        .having(func.count() >= min_answers)
        .order_by(avg, Answer.question_id)
        .limit(limit)
    )
    return [(str(q), float(a), int(n)) for q, a, n in result.all()]


async def drill_devices(session: AsyncSession, *, cohort_id: int) -> list[tuple[str, str, int]]:
    """Return (drill, device kind, passing runs) that have a board in the cohort."""
    result = await session.execute(
        select(Submission.drill_id, Submission.device_kind, func.count())
        .where(
            Submission.cohort_id == cohort_id,
            Submission.verdict == "passed",
            col(Submission.time_s).is_not(None),
        )
        .group_by(Submission.drill_id, Submission.device_kind)
        .order_by(Submission.drill_id, Submission.device_kind)
    )
    return [(str(d), str(k), int(n)) for d, k, n in result.all()]
