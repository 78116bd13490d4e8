"""The spaced-review deck: one FSRS card per (member, question)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.models import ReviewCard


async def get_card(session: AsyncSession, *, member_id: int, question_id: str) -> ReviewCard | None:
    """Return a member's card for a question, row-locked until the transaction ends."""
    result = await session.execute(
        select(ReviewCard)
        .where(col(ReviewCard.member_id) == member_id, col(ReviewCard.question_id) == question_id)
        .with_for_update()
    )
    return result.scalars().first()


async def save_card(
    session: AsyncSession,
    *,
    member_id: int,
    cohort_id: int,
    question_id: str,
    card: dict[str, Any],
    due: datetime,
    rating: int,
    now: datetime,
) -> ReviewCard:
    """Add or update a member's card after a review."""
    row = await get_card(session, member_id=member_id, question_id=question_id)
    if row is None:
        row = ReviewCard(member_id=member_id, cohort_id=cohort_id, question_id=question_id, due=due)
    row.card, row.due, row.last_rating, row.updated_at = card, due, rating, now
    row.reviews += 1
    session.add(row)
    await session.flush()
    return row


async def due_cards(
    session: AsyncSession, *, member_id: int, now: datetime, limit: int = 1
) -> list[ReviewCard]:
    """Return a member's cards due by `now`, the longest overdue first."""
    result = await session.execute(
        select(ReviewCard)
        .where(col(ReviewCard.member_id) == member_id, col(ReviewCard.due) <= now)
        .order_by(col(ReviewCard.due), col(ReviewCard.id))
        .limit(limit)
    )
    return list(result.scalars().all())


async def count_due(session: AsyncSession, *, member_id: int, now: datetime) -> int:
    """Return how many of a member's cards are due by `now`."""
    result = await session.execute(
        select(func.count()).where(
            col(ReviewCard.member_id) == member_id, col(ReviewCard.due) <= now
        )
    )
    return int(result.scalar() or 0)


async def next_due(session: AsyncSession, *, member_id: int) -> datetime | None:
    """Return when a member's next card comes due."""
    result = await session.execute(
        select(func.min(col(ReviewCard.due))).where(col(ReviewCard.member_id) == member_id)
    )
    return result.scalar()


async def members_due_by_cohort(
    session: AsyncSession, *, cohort_ids: Sequence[int], by: datetime
) -> dict[int, int]:
    """Return, by cohort, how many members have at least one card due by `by` (none: absent)."""
    if not cohort_ids:
        return {}
    result = await session.execute(
        select(col(ReviewCard.cohort_id), func.count(func.distinct(col(ReviewCard.member_id))))
        .where(col(ReviewCard.cohort_id).in_(list(cohort_ids)), col(ReviewCard.due) <= by)
        .group_by(col(ReviewCard.cohort_id))
    )
    return {int(cohort_id): int(members) for cohort_id, members in result.all()}
