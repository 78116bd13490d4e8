"""Repository functions for day posts: the claim that makes a post happen exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, select

from bot.store.models import DayPost, ThreadLink


@dataclass(frozen=True)
class Claim:
    """A claimed post; `resumed` when it was taken over from a worker that did not finish."""

    post: DayPost
    resumed: bool


async def get_day_post(session: AsyncSession, *, cohort_id: int, day: int) -> DayPost | None:
    """Return the post record of one cohort's day."""
    result = await session.execute(
        select(DayPost).where(DayPost.cohort_id == cohort_id, DayPost.day == day)
    )
    return result.scalars().first()


async def claim_day_post(
    session: AsyncSession,
    *,
    cohort_id: int,
    day: int,
    scheduled_for: datetime,
    worker: str,
    now: datetime,
    lease_s: float = 300.0,
) -> Claim | None:
    """Claim (cohort, day) for posting; None when another worker holds it or it is done.

    The UNIQUE (cohort_id, day) key decides the race. A claim whose lease ran out (its worker
    died mid-post) is taken over, and the post resumes from the parts already recorded.
    """
    lease_until = now + timedelta(seconds=lease_s)
    post = DayPost(
        cohort_id=cohort_id,
        day=day,
        status="claimed",
        scheduled_for=scheduled_for,
        claimed_by=worker,
        claimed_at=now,
        lease_until=lease_until,
    )
    session.add(post)
    try:
        await session.commit()
        return Claim(post, resumed=False)
    except IntegrityError:
        await session.rollback()
    result = await session.execute(
        update(DayPost)
        .where(
            col(DayPost.cohort_id) == cohort_id,
            col(DayPost.day) == day,
            col(DayPost.status) == "claimed",
            or_(col(DayPost.lease_until).is_(None), col(DayPost.lease_until) < now),
        )
        .values(claimed_by=worker, claimed_at=now, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.expire_all()
    taken = await get_day_post(session, cohort_id=cohort_id, day=day)
    return Claim(taken, resumed=True) if taken is not None else None


async def record_post_part(
    session: AsyncSession,
    *,
    post: DayPost,
    part: str,
    sent: dict[str, Any],
    lease_until: datetime,
    thread: ThreadLink | None = None,
) -> None:
    """Record one message of a post (and its question thread) the moment the platform took it.

    One statement pair and one commit per message: this runs once per message of every
    cohort's post, so it stays off the ORM's unit of work.
    """
    message_ids = {**post.message_ids, part: sent}
    await session.execute(
        update(DayPost)
        .where(col(DayPost.id) == post.id)
        .values(message_ids=message_ids, lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    if thread is not None:
        await session.execute(insert(ThreadLink).values(**thread.model_dump(exclude={"id"})))
    await session.commit()
    set_committed_value(post, "message_ids", message_ids)
    set_committed_value(post, "lease_until", lease_until)


async def finish_day_post(
    session: AsyncSession,
    *,
    post: DayPost,
    status: str,
    now: datetime,
    error: str | None = None,
) -> None:
    """Mark a post posted or failed and drop the lease."""
    post.status = status
    post.posted_at = now if status == "posted" else None
    post.last_error = error
    post.lease_until = None
    session.add(post)
    await session.commit()


async def release_day_post(
    session: AsyncSession, *, post: DayPost, now: datetime, error: str
) -> None:
    """Give a claim back after a transient failure so the next tick resumes it."""
    post.attempts += 1
    post.last_error = error
    post.lease_until = now
    session.add(post)
    await session.commit()


async def record_missed_day(
    session: AsyncSession, *, cohort_id: int, day: int, scheduled_for: datetime, now: datetime
) -> bool:
    """Record a day as missed (too late to post); False when it already has a record."""
    session.add(
        DayPost(
            cohort_id=cohort_id,
            day=day,
            status="missed",
            scheduled_for=scheduled_for,
            claimed_by="",
            claimed_at=now,
        )
    )
    try:
        await session.commit()
        return True
    except IntegrityError:
        await session.rollback()
        return False
