"""Repository functions for answers, grades, points and drafted rubrics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.models import Answer, DraftedRubric, Grade, PointsEvent, ThreadLink


async def add_answer(session: AsyncSession, *, answer: Answer) -> Answer:
    """Store an answer (pending) and commit, before any grading starts."""
    session.add(answer)
    await session.commit()
    return answer


async def pending_answers(
    session: AsyncSession, *, older_than: datetime, max_attempts: int
) -> Sequence[Answer]:
    """Return answers still waiting for a grade."""
    result = await session.execute(
        select(Answer)
        .where(
            Answer.status == "pending",
            col(Answer.created_at) <= older_than,
            col(Answer.attempts) < max_attempts,
        )
        .order_by(col(Answer.id))
    )
    return result.scalars().all()


async def save_grade(session: AsyncSession, *, answer: Answer, grade: Grade, now: datetime) -> bool:
    """Store the grade and mark the answer graded; False if another process graded it first."""
    answer.status = "graded"
    answer.graded_at = now
    answer.last_error = None
    session.add(answer)
    session.add(grade)
    try:
        await session.commit()
        return True
    except IntegrityError:
        await session.rollback()
        return False


async def best_score(
    session: AsyncSession, *, member_id: int, question_id: str, exclude_answer: int | None = None
) -> float | None:
    """Return the member's best score on a question so far."""
    query = (
        select(func.max(Grade.score))
        .join(Answer, col(Answer.id) == col(Grade.answer_id))
        .where(Answer.member_id == member_id, Answer.question_id == question_id)
    )
    if exclude_answer is not None:
        query = query.where(col(Answer.id) != exclude_answer)
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
) -> bool:
    """Append a points event once per ref; False when it was already awarded."""
    session.add(
        PointsEvent(
            cohort_id=cohort_id,
            member_id=member_id,
            kind=kind,
            ref=ref,
            points=points,
            local_day=local_day,
        )
    )
    try:
        await session.commit()
        return True
    except IntegrityError:
        await session.rollback()
        return False


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


async def save_drafted_rubric(
    session: AsyncSession, *, question_id: str, points: list[Any], model: str
) -> DraftedRubric:
    """Store a drafted rubric once; a concurrent draft keeps the first."""
    draft = DraftedRubric(question_id=question_id, points=points, model=model)
    session.add(draft)
    try:
        await session.commit()
        return draft
    except IntegrityError:
        await session.rollback()
        existing = await get_drafted_rubric(session, question_id=question_id)
        assert existing is not None
        return existing
