"""Repository functions for day posts: the record of what each cohort's day posted.

The claim that makes a post happen exactly once lives in `bot.store.claims` (key
``day_post:<cohort>:<day>``); this table keeps the post's status and the ids of its messages.
Every write here runs inside the caller's transaction, after the claim's fence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.store.claims import Executor, insert_ignoring_duplicates
from bot.store.models import DayPost, ThreadLink

_posts = DayPost.__table__  # type: ignore[attr-defined]
_links = ThreadLink.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class OpenPost:
    """A day post being made: its id, status, the parts already recorded, and whether it is new."""

    id: int
    status: str
    message_ids: dict[str, Any]
    created: bool


def day_post_key(cohort_id: int, day: int) -> str:
    """Return the claim key of one cohort's day post."""
    return f"day_post:{cohort_id}:{day}"


async def get_day_post(session: Executor, *, cohort_id: int, day: int) -> DayPost | None:
    """Return the post record of one cohort's day."""
    row = (
        await session.execute(
            select(_posts).where(_posts.c.cohort_id == cohort_id, _posts.c.day == day)
        )
    ).first()
    return DayPost(**row._mapping) if row is not None else None


async def post_statuses(session: Executor, *, days: Iterable[int]) -> dict[tuple[int, int], str]:
    """Return the status of every post record of these days, by (cohort id, day): one query."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    rows = await session.execute(
        select(_posts.c.cohort_id, _posts.c.day, _posts.c.status).where(_posts.c.day.in_(wanted))
    )
    return {(r.cohort_id, r.day): r.status for r in rows}


async def open_day_post(
    session: Executor,
    *,
    cohort_id: int,
    day: int,
    scheduled_for: datetime,
    holder: str,
    now: datetime,
) -> OpenPost:
    """Create the record of a day's post, or take up the existing one, for its claim's holder."""
    created = await session.execute(
        insert_ignoring_duplicates(session, _posts)
        .values(
            cohort_id=cohort_id,
            day=day,
            status="claimed",
            scheduled_for=scheduled_for,
            claimed_by=holder,
            claimed_at=now,
            attempts=0,
            message_ids={},
        )
        .on_conflict_do_nothing(index_elements=["cohort_id", "day"])
        .returning(_posts.c.id)
    )
    post_id = created.scalar()
    if post_id is not None:
        return OpenPost(post_id, "claimed", {}, created=True)
    row = (
        await session.execute(
            update(_posts)
            .where(_posts.c.cohort_id == cohort_id, _posts.c.day == day)
            .values(claimed_by=holder, claimed_at=now)
            .returning(_posts.c.id, _posts.c.status, _posts.c.message_ids)
        )
    ).one()
    return OpenPost(row.id, row.status, dict(row.message_ids or {}), created=False)


async def record_post_part(
    session: Executor,
    *,
    post_id: int,
    message_ids: dict[str, Any],
    lease_until: datetime | None = None,
    thread: ThreadLink | None = None,
) -> None:
    """Record the parts posted so far (and a question's thread) the moment the platform took one.

    Core statements, no ORM unit of work: this runs once per message of every cohort's post.
    """
    await session.execute(
        update(_posts)
        .where(_posts.c.id == post_id)
        .values(message_ids=message_ids, lease_until=lease_until)
    )
    if thread is not None:
        await session.execute(
            insert_ignoring_duplicates(session, _links)
            .values(**thread.model_dump(exclude={"id"}))
            .on_conflict_do_nothing(index_elements=["platform", "channel_id", "thread_id"])
        )


async def finish_day_post(
    session: Executor, *, post_id: int, status: str, now: datetime, error: str | None = None
) -> None:
    """Mark a post posted or failed."""
    await session.execute(
        update(_posts)
        .where(_posts.c.id == post_id)
        .values(
            status=status,
            posted_at=now if status == "posted" else None,
            last_error=error,
            lease_until=None,
        )
    )


async def note_post_error(session: Executor, *, post_id: int, error: str) -> None:
    """Count a failed attempt of a post that will be resumed."""
    await session.execute(
        update(_posts)
        .where(_posts.c.id == post_id)
        .values(attempts=_posts.c.attempts + 1, last_error=error, lease_until=None)
    )


async def record_missed_day(
    session: Executor,
    *,
    cohort_id: int,
    day: int,
    scheduled_for: datetime,
    now: datetime,
    reason: str,
) -> bool:
    """Record a day as missed (too late to post); False when it already has a record."""
    result = await session.execute(
        insert_ignoring_duplicates(session, _posts)
        .values(
            cohort_id=cohort_id,
            day=day,
            status="missed",
            scheduled_for=scheduled_for,
            claimed_by="",
            claimed_at=now,
            attempts=0,
            last_error=reason,
            message_ids={},
        )
        .on_conflict_do_nothing(index_elements=["cohort_id", "day"])
        .returning(_posts.c.id)
    )
    return result.scalar() is not None
