"""Repository functions for answers, grades, points and drafted rubrics.

Every function takes the session and never commits: the service's unit of work commits once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.answers import AnswerStatus
from bot.store import points as points_store
from bot.store.models import Answer, DraftedRubric, Grade, Member, PointsEvent, ThreadLink


async def add_answer(session: AsyncSession, *, answer: Answer) -> Answer:
    """Add an answer (pending) and give it its id."""
    session.add(answer)
    await session.flush()
    return answer


async def get_answer(session: AsyncSession, *, answer_id: int) -> Answer | None:
    """Return an answer by id."""
    return await session.get(Answer, answer_id)


async def pending_answers(
    session: AsyncSession, *, older_than: datetime, max_attempts: int
) -> Sequence[Answer]:
    """Return answers still waiting for a grade."""
    result = await session.execute(
        select(Answer)
        .where(
            Answer.status == AnswerStatus.PENDING,
            col(Answer.created_at) <= older_than,
            col(Answer.attempts) < max_attempts,
        )
        .order_by(col(Answer.id))
    )
    return result.scalars().all()


async def finish_pending_answer(
    session: AsyncSession, *, answer_id: int, status: AnswerStatus, now: datetime
) -> bool:
    """Move a pending answer to a final status; False when another process got there first.

    The conditional update is the race's referee: on PostgreSQL the second writer waits for the
    first to commit and then matches no row; on SQLite writers are serialised.
    """
    result = await session.execute(
        update(Answer)
        .where(col(Answer.id) == answer_id, col(Answer.status) == AnswerStatus.PENDING)
        .values(status=status.value, graded_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def untold_answers(
    session: AsyncSession, *, graded_before: datetime, answer_ids: Collection[int] | None = None
) -> Sequence[Answer]:
    """Return answers decided (graded or self-checked) whose member was not told yet."""
    query = select(Answer).where(
        col(Answer.status) != AnswerStatus.PENDING,
        col(Answer.told_at).is_(None),
        col(Answer.graded_at) <= graded_before,
    )
    if answer_ids is not None:
        query = query.where(col(Answer.id).in_(list(answer_ids)))
    result = await session.execute(query.order_by(col(Answer.id)))
    return result.scalars().all()


async def mark_told(session: AsyncSession, *, answer_id: int, now: datetime) -> bool:
    """Record that an answer's member was told its grade; False when someone told it first."""
    result = await session.execute(
        update(Answer)
        .where(
            col(Answer.id) == answer_id,
            col(Answer.status) != AnswerStatus.PENDING,
            col(Answer.told_at).is_(None),
        )
        .values(told_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def points_for_answer(session: AsyncSession, *, answer_id: int) -> int:
    """Return the points an answer's grade earned (0 when none were awarded)."""
    query = select(func.coalesce(func.sum(PointsEvent.points), 0)).where(
        PointsEvent.kind == "answer", PointsEvent.ref == f"answer:{answer_id}"
    )
    return int((await session.execute(query)).scalar() or 0)


async def record_failed_attempt(session: AsyncSession, *, answer_id: int, error: str) -> None:
    """Count a failed grading of a pending answer and keep why it failed."""
    await session.execute(
        update(Answer)
        .where(col(Answer.id) == answer_id, col(Answer.status) == AnswerStatus.PENDING)
        .values(attempts=col(Answer.attempts) + 1, last_error=error[:2000])
        .execution_options(synchronize_session=False)
    )


async def lock_member(session: AsyncSession, *, member_id: int) -> Member | None:
    """Return a member, row-locked until the transaction ends (serialises their awards)."""
    result = await session.execute(
        select(Member).where(col(Member.id) == member_id).with_for_update()
    )
    return result.scalars().first()


async def add_grade(session: AsyncSession, *, grade: Grade) -> Grade:
    """Add the grade of an answer."""
    session.add(grade)
    await session.flush()
    return grade


async def get_grade(session: AsyncSession, *, answer_id: int) -> Grade | None:
    """Return the stored grade of an answer."""
    result = await session.execute(select(Grade).where(Grade.answer_id == answer_id))
    return result.scalars().first()


async def best_score(
    session: AsyncSession,
    *,
    member_id: int,
    question_id: str,
    exclude_answer: int | None = None,
    before_answer: int | None = None,
) -> float | None:
    """Return the member's best score on a question so far (or before a given answer)."""
    query = (
        select(func.max(Grade.score))
        .join(Answer, col(Answer.id) == col(Grade.answer_id))
        .where(Answer.member_id == member_id, Answer.question_id == question_id)
    )
    if exclude_answer is not None:
        query = query.where(col(Answer.id) != exclude_answer)
    if before_answer is not None:
        query = query.where(col(Answer.id) < before_answer)
    return (await session.execute(query)).scalar()


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
) -> bool:
    """Append a points event once per ref; False when it was already awarded."""
    return await points_store.award_points(
        session,
        cohort_id=cohort_id,
        member_id=member_id,
        kind=kind,
        ref=ref,
        points=points,
        local_day=local_day,
        at=at,
    )


async def find_thread(
    session: AsyncSession, *, platform: str, channel_id: str, thread_id: str
) -> ThreadLink | None:
    """Return which question a thread asks."""
    result = await session.execute(
        select(ThreadLink).where(
            ThreadLink.platform == platform,
            ThreadLink.channel_id == channel_id,
            ThreadLink.thread_id == thread_id,
        )
    )
    return result.scalars().first()


async def get_drafted_rubric(session: AsyncSession, *, question_id: str) -> DraftedRubric | None:
    """Return a drafted rubric."""
    return await session.get(DraftedRubric, question_id)


async def add_drafted_rubric(
    session: AsyncSession, *, question_id: str, points: list[Any], model: str
) -> DraftedRubric:
    """Add a drafted rubric; a concurrent draft makes the commit fail and the first one stays."""
    draft = DraftedRubric(question_id=question_id, points=points, model=model)
    session.add(draft)
    await session.flush()
    return draft
