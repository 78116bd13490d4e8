"""Repository functions for day posts: the record of what each cohort's day posted.

The claim that makes a post happen exactly once lives in `bot.store.claims` (key
``day_post:<cohort>:<day>``); this table keeps the post's status and the ids of its messages.
Every write here runs inside the caller's transaction, after the claim's fence.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, bindparam, case, cast, exists, func, null, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.domain.claims import ClaimToken
from bot.store import claims as claim_repo
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


@dataclass(frozen=True, slots=True)
class NewThreadLink:
    """A question's thread to record with its part (a plain row: built once per message)."""

    platform: str
    channel_id: str
    thread_id: str
    cohort_id: int
    day: int
    question_id: str
    created_at: datetime


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


_RECORD = (
    update(_posts)
    .where(_posts.c.id == bindparam("record_id"))
    .values(
        message_ids=bindparam("new_message_ids", type_=_posts.c.message_ids.type),
        lease_until=bindparam("new_lease_until", type_=_posts.c.lease_until.type),
    )
)
_LINK_COLUMNS = ("platform", "channel_id", "thread_id", "cohort_id", "day", "question_id")


def _link_insert(executor: Executor) -> Any:
    return (
        insert_ignoring_duplicates(executor, _links)
        .values({name: bindparam(f"link_{name}") for name in (*_LINK_COLUMNS, "created_at")})
        .on_conflict_do_nothing(index_elements=["platform", "channel_id", "thread_id"])
    )


_LINK_INSERTS: dict[str, Any] = {}


async def record_post_part(
    session: Executor,
    *,
    post_id: int,
    message_ids: dict[str, Any],
    lease_until: datetime | None = None,
    thread: NewThreadLink | None = None,
) -> None:
    """Record the parts posted so far (and a question's thread) the moment the platform took one.

    Statements built once, no ORM unit of work: this runs once per message of every cohort's
    post.
    """
    await session.execute(
        _RECORD,
        {"record_id": post_id, "new_message_ids": message_ids, "new_lease_until": lease_until},
    )
    if thread is not None:
        dialect = (
            session.get_bind() if isinstance(session, AsyncSession) else session
        ).dialect.name
        statement = _LINK_INSERTS.get(dialect)
        if statement is None:
            statement = _LINK_INSERTS[dialect] = _link_insert(session)
        params = {f"link_{name}": getattr(thread, name) for name in _LINK_COLUMNS}
        params["link_created_at"] = thread.created_at
        await session.execute(statement, params)


def _fenced_record_statement() -> Any:
    """Build the PostgreSQL statement that fences, records and links a part in one round trip.

    Three data-modifying CTEs, each running only if the one before matched: the claim's
    renewing UPDATE (WHERE holder AND epoch), the record, the thread link. The last part of a
    day also finishes the claim and the post in the same statement.
    """
    from bot.store.models import WorkClaim

    claims = WorkClaim.__table__  # type: ignore[attr-defined]
    lease = bindparam("new_lease_until", type_=_posts.c.lease_until.type)
    fenced = (
        update(claims)
        .where(
            claims.c.id == bindparam("held_id"),
            claims.c.holder == bindparam("held_by"),
            claims.c.epoch == bindparam("held_epoch"),
            claims.c.status == "held",
        )
        .values(lease_until=lease, status=bindparam("new_claim_status"))
        .returning(claims.c.id)
        .cte("fenced")
    )
    recorded = (
        update(_posts)
        .where(_posts.c.id == bindparam("record_id"), exists(select(fenced.c.id)))
        .values(
            message_ids=bindparam("new_message_ids", type_=_posts.c.message_ids.type),
            lease_until=lease,
            status=bindparam("new_post_status"),
            posted_at=bindparam("new_posted_at", type_=_posts.c.posted_at.type),
            last_error=case(
                (bindparam("finishing", type_=Boolean), null()), else_=_posts.c.last_error
            ),
        )
        .returning(_posts.c.id)
        .cte("recorded")
    )
    link_values = select(
        *(
            cast(bindparam(f"link_{name}"), _links.c[name].type).label(name)
            for name in (*_LINK_COLUMNS, "created_at")
        )
    ).where(bindparam("with_link", type_=Boolean), exists(select(recorded.c.id)))
    linked = (
        postgresql.insert(_links)
        .from_select([*_LINK_COLUMNS, "created_at"], link_values)
        .on_conflict_do_nothing(index_elements=["platform", "channel_id", "thread_id"])
        .returning(_links.c.id)
        .cte("linked")
    )
    return (
        select(select(func.count()).select_from(fenced).scalar_subquery())
        .add_cte(recorded)
        .add_cte(linked)
    )


_FENCED_RECORD_STATEMENT: Any = None
_FENCED_RECORD: tuple[str, tuple[str, ...], dict[str, Any]] | None = (
    None  # compiled, for the driver
)


def fenced_record_is_one_statement(dialect: str) -> bool:
    """Tell whether `record_post_part_fenced` is a single statement on this database.

    A single statement is atomic on its own, so it may run outside an explicit transaction
    (hand it a connection with no transaction begun).
    """
    return dialect == "postgresql"


async def record_post_part_fenced(
    session: Executor,
    *,
    token: ClaimToken,
    post_id: int,
    message_ids: dict[str, Any],
    lease_until: datetime | None,
    thread: NewThreadLink | None = None,
    posted_at: datetime | None = None,
) -> bool:
    """Fence and record one part in the caller's transaction; False (nothing written) if lost.

    With `posted_at` the part completes the day: the post is marked posted and the claim
    finished. PostgreSQL does it all in one statement; elsewhere the fence's UPDATE runs first
    and holds the claim row (or SQLite's write lock) until the caller commits.
    """
    global _FENCED_RECORD
    bind = session.get_bind() if isinstance(session, AsyncSession) else session
    if bind.dialect.name != "postgresql":
        if not await claim_repo.renew_claim_until(session, token=token, lease_until=lease_until):
            return False
        await record_post_part(
            session,
            post_id=post_id,
            message_ids=message_ids,
            lease_until=lease_until,
            thread=thread,
        )
        if posted_at is not None:
            await finish_day_post(session, post_id=post_id, status="posted", now=posted_at)
            await claim_repo.finish_claim(session, token=token, now=posted_at)
        return True
    params: dict[str, Any] = {
        "held_id": token.claim_id,
        "held_by": token.holder,
        "held_epoch": token.epoch,
        "new_lease_until": None if posted_at is not None else lease_until,
        "new_claim_status": "held" if posted_at is None else "finished",
        "record_id": post_id,
        "new_message_ids": message_ids,
        "new_post_status": "claimed" if posted_at is None else "posted",
        "new_posted_at": posted_at,
        "finishing": posted_at is not None,
        "with_link": thread is not None,
    }
    for name in (*_LINK_COLUMNS, "created_at"):
        params[f"link_{name}"] = getattr(thread, name) if thread is not None else None
    if isinstance(session, AsyncConnection) and not session.in_transaction():
        # Outside a transaction the statement is its own: send it straight to the driver,
        # skipping the ORM layers that cost more than the round trip at fan-out scale.
        if _FENCED_RECORD is None:
            compiled = _fenced_record_statement().compile(dialect=bind.dialect)
            _FENCED_RECORD = (str(compiled), tuple(compiled.positiontup or ()), compiled.params)
        sql, order, defaults = _FENCED_RECORD
        values = {**defaults, **params, "new_message_ids": json.dumps(message_ids)}
        raw = await session.get_raw_connection()
        driver: Any = raw.driver_connection
        return bool(await driver.fetchval(sql, *(values[name] for name in order)))
    global _FENCED_RECORD_STATEMENT
    if _FENCED_RECORD_STATEMENT is None:
        _FENCED_RECORD_STATEMENT = _fenced_record_statement()
    fenced = (await session.execute(_FENCED_RECORD_STATEMENT, params)).scalar()
    return bool(fenced)


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
