"""Repository functions for grade reviews: points the LLM found and the claim checks did not."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.models import Grade, GradeReview


async def open_reviews(session: AsyncSession, *, cohort_id: int) -> Sequence[GradeReview]:
    """Return the cohort's reviews still waiting for an admin, oldest first."""
    result = await session.execute(
        select(GradeReview)
        .where(GradeReview.cohort_id == cohort_id, GradeReview.status == "open")
        .order_by(col(GradeReview.id))
    )
    return result.scalars().all()


async def reviews_of_answer(session: AsyncSession, *, answer_id: int) -> Sequence[GradeReview]:
    """Return every review of one answer's points."""
    result = await session.execute(
        select(GradeReview)
        .where(GradeReview.answer_id == answer_id)
        .order_by(col(GradeReview.point_index))
    )
    return result.scalars().all()


async def get_review(session: AsyncSession, *, review_id: int) -> GradeReview | None:
    """Return one review by id."""
    return await session.get(GradeReview, review_id)


async def grade_of_answer(session: AsyncSession, *, answer_id: int) -> Grade | None:
    """Return the stored grade of an answer, if it has one."""
    result = await session.execute(select(Grade).where(col(Grade.answer_id) == answer_id))
    return result.scalars().first()
