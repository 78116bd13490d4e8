"""Repository functions for fenced work claims: acquire, renew (the fence), release, finish.

Every function runs inside the caller's transaction and never commits. The fence is an UPDATE
that names the holder and the epoch: it matches nothing once the claim was taken over, and it
locks the claim row until the caller commits, so a takeover waits for (and then sees) a renewal
that is in flight. Writes that must only happen while the claim is held go in the same
transaction, after `renew_claim` returned True (or `fence` returned).

    async with sessions.begin() as s:      # one short transaction per step
        token = await acquire_claim(s, key="recap:12:2026-W49", holder=me, now=now, policy=p)
    ...                                    # no transaction open while talking to a platform
    async with sessions.begin() as s:
        await fence(s, token=token, now=clock.now(), policy=p)   # raises ClaimLost
        ...record what was done...
    async with sessions.begin() as s:
        await finish_claim(s, token=token, now=clock.now())
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.domain.claims import (
    FENCE_TRIES,
    ClaimLost,
    ClaimPolicy,
    ClaimState,
    ClaimStatus,
    ClaimToken,
    FenceTooSlow,
    takeover_reason,
)
from bot.store.models import BotProcess, WorkClaim

Executor = AsyncSession | AsyncConnection

_claims = WorkClaim.__table__  # type: ignore[attr-defined]
_processes = BotProcess.__table__  # type: ignore[attr-defined]


def insert_ignoring_duplicates(executor: Executor, table: Any) -> Any:
    """Return an INSERT for this dialect that does nothing on a unique-key conflict."""
    bind = executor.get_bind() if isinstance(executor, AsyncSession) else executor
    module: Any = postgresql if bind.dialect.name == "postgresql" else sqlite
    return module.insert(table)


async def acquire_claim(
    session: Executor, *, key: str, holder: str, now: datetime, policy: ClaimPolicy
) -> ClaimToken | None:
    """Take the claim on `key`, or None when a live holder has it or the work is finished.

    The first acquisition inserts epoch 1. An existing claim is taken over (epoch + 1) when it
    was released, its lease ran out, or its holder's process stopped beating; the UPDATE is a
    compare-and-set on the epoch read, so of two processes racing for it exactly one wins.
    """
    inserted = await session.execute(
        insert_ignoring_duplicates(session, _claims)
        .values(
            key=key,
            holder=holder,
            epoch=1,
            status=ClaimStatus.HELD.value,
            lease_until=policy.lease_end(now),
            claimed_at=now,
            attempts=0,
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(_claims.c.id)
    )
    claim_id = inserted.scalar()
    if claim_id is not None:
        return ClaimToken(key=key, claim_id=claim_id, holder=holder, epoch=1)
    row = (
        await session.execute(
            select(
                _claims.c.id,
                _claims.c.holder,
                _claims.c.epoch,
                _claims.c.status,
                _claims.c.lease_until,
                _processes.c.heartbeat_at,
                _processes.c.stopped_at,
            )
            .select_from(_claims.outerjoin(_processes, _processes.c.id == _claims.c.holder))
            .where(_claims.c.key == key)
            # A row locked by its holder's open step is being worked on this instant (or its
            # holder was paused mid-step): busy, not a row to queue behind.
            .with_for_update(of=_claims, skip_locked=True)
        )
    ).first()
    if row is None:
        return None
    state = ClaimState(
        holder=row.holder,
        epoch=row.epoch,
        status=row.status,
        lease_until=row.lease_until,
        holder_heartbeat_at=row.heartbeat_at,
        holder_stopped=row.stopped_at is not None,
    )
    reason = takeover_reason(state, claimant=holder, now=now, policy=policy)
    if reason is None:
        return None
    taken = await session.execute(
        update(_claims)
        .where(
            _claims.c.id == row.id,
            _claims.c.epoch == row.epoch,
            _claims.c.status == row.status,
        )
        .values(
            holder=holder,
            epoch=row.epoch + 1,
            status=ClaimStatus.HELD.value,
            lease_until=policy.lease_end(now),
            claimed_at=now,
        )
        .returning(_claims.c.id)
    )
    if taken.scalar() is None:
        return None
    return ClaimToken(
        key=key,
        claim_id=row.id,
        holder=holder,
        epoch=row.epoch + 1,
        taken_from=row.holder,
        reason=reason,
    )


async def acquire_claims(
    session: Executor, *, keys: Sequence[str], holder: str, now: datetime, policy: ClaimPolicy
) -> dict[str, ClaimToken]:
    """Take the claims on many keys at once; return a token for each key taken.

    New keys are inserted in one statement. A key that has a row already is taken over only
    as `acquire_claim` would take it (released, lease run out, holder dead), each by its own
    compare-and-set on the epoch read: that is the rare path after a failure or a crash.
    """
    # One order for every process: two inserting overlapping keys never wait on each other
    # in opposite orders (a deadlock).
    ordered = sorted(set(keys))
    tokens: dict[str, ClaimToken] = {}
    if ordered:
        lease_until = policy.lease_end(now)
        # Many parameter sets, one compiled statement: the driver sends them as multi-row
        # INSERTs, and the statement stays in the compiled cache whatever the count.
        inserted = await session.execute(
            insert_ignoring_duplicates(session, _claims)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(_claims.c.id, _claims.c.key),
            [
                {
                    "key": key,
                    "holder": holder,
                    "epoch": 1,
                    "status": ClaimStatus.HELD.value,
                    "lease_until": lease_until,
                    "claimed_at": now,
                    "attempts": 0,
                }
                for key in ordered
            ],
        )
        for claim_id, key in inserted.all():
            tokens[key] = ClaimToken(key=key, claim_id=claim_id, holder=holder, epoch=1)
    taken_before = [key for key in ordered if key not in tokens]
    for key in taken_before:
        token = await acquire_claim(session, key=key, holder=holder, now=now, policy=policy)
        if token is not None:
            tokens[key] = token
    return tokens


_BATCH = 500  # rows a statement: well under every driver's limit on bound parameters


# Built once: the fence runs once per message of every cohort's post.
_RENEW = (
    update(_claims)
    .where(
        _claims.c.id == bindparam("held_id"),
        _claims.c.holder == bindparam("held_by"),
        _claims.c.epoch == bindparam("held_epoch"),
        _claims.c.status == ClaimStatus.HELD.value,
    )
    .values(lease_until=bindparam("new_lease_until"))
    .returning(_claims.c.id)
)


async def renew_claim(
    session: Executor, *, token: ClaimToken, now: datetime, policy: ClaimPolicy
) -> bool:
    """Check the fence and move the lease to now + lease; False when the claim was lost."""
    result = await session.execute(
        _RENEW,
        {
            "held_id": token.claim_id,
            "held_by": token.holder,
            "held_epoch": token.epoch,
            "new_lease_until": policy.lease_end(now),
        },
    )
    return result.scalar() is not None


async def renew_claim_until(
    session: Executor, *, token: ClaimToken, lease_until: datetime | None
) -> bool:
    """Check the fence and set the lease's end (None once the work is about to finish)."""
    result = await session.execute(
        _RENEW,
        {
            "held_id": token.claim_id,
            "held_by": token.holder,
            "held_epoch": token.epoch,
            "new_lease_until": lease_until,
        },
    )
    return result.scalar() is not None


async def fence(
    session: Executor, *, token: ClaimToken, now: datetime, policy: ClaimPolicy
) -> None:
    """Renew the claim or raise ClaimLost: call it before a send and before every record."""
    if not await renew_claim(session, token=token, now=now, policy=policy):
        raise ClaimLost(token.key, token.epoch)


async def release_claim(
    session: Executor, *, token: ClaimToken, now: datetime, error: str | None = None
) -> bool:
    """Give the claim back (after a transient failure) so any process resumes it at once."""
    result = await session.execute(
        update(_claims)
        .where(
            _claims.c.id == token.claim_id,
            _claims.c.holder == token.holder,
            _claims.c.epoch == token.epoch,
            _claims.c.status == ClaimStatus.HELD.value,
        )
        .values(
            status=ClaimStatus.RELEASED.value,
            lease_until=now,
            attempts=_claims.c.attempts + 1,
            last_error=error,
        )
        .returning(_claims.c.id)
    )
    return result.scalar() is not None


async def finish_claim(
    session: Executor, *, token: ClaimToken, now: datetime, error: str | None = None
) -> bool:
    """Mark the work done for good (fenced); False when the claim was lost first."""
    result = await session.execute(
        update(_claims)
        .where(
            _claims.c.id == token.claim_id,
            _claims.c.holder == token.holder,
            _claims.c.epoch == token.epoch,
            _claims.c.status == ClaimStatus.HELD.value,
        )
        .values(status=ClaimStatus.FINISHED.value, lease_until=None, last_error=error)
        .returning(_claims.c.id)
    )
    return result.scalar() is not None


async def finish_claims(
    session: Executor, *, tokens: Sequence[ClaimToken], now: datetime
) -> set[int]:
    """Mark many claims' work done, each fenced by its holder and epoch; return the ids held."""
    done: set[int] = set()
    for start in range(0, len(tokens), _BATCH):
        chunk = tokens[start : start + _BATCH]
        result = await session.execute(
            update(_claims)
            .where(
                tuple_(_claims.c.id, _claims.c.holder, _claims.c.epoch).in_(
                    [(t.claim_id, t.holder, t.epoch) for t in chunk]
                ),
                _claims.c.status == ClaimStatus.HELD.value,
            )
            .values(status=ClaimStatus.FINISHED.value, lease_until=None)
            .returning(_claims.c.id)
        )
        done.update(result.scalars().all())
    return done


async def get_claim(session: Executor, *, key: str) -> WorkClaim | None:
    """Return the claim row of a key (for inspection and tests)."""
    row = (await session.execute(select(_claims).where(_claims.c.key == key))).first()
    return WorkClaim(**row._mapping) if row is not None else None


async def fence_for_send(
    policy: ClaimPolicy,
    now: Callable[[], datetime],
    fenced_from: datetime | None,
    check: Callable[[datetime], Awaitable[object]],
    *,
    token: ClaimToken,
) -> datetime:
    """Make sure a fence check covers a send about to start; return when that check began.

    A check begun within the send window covers it. Otherwise `check(now)` renews the claim
    (raising ClaimLost when it was taken over); a check that itself outlasts the window is
    followed by another, at most FENCE_TRIES in all, then FenceTooSlow.
    """
    for _ in range(FENCE_TRIES):
        if fenced_from is not None and policy.fence_still_fresh(fenced_from, now()):
            return fenced_from
        checked_from = now()
        await check(checked_from)
        fenced_from = checked_from
    if fenced_from is not None and policy.fence_still_fresh(fenced_from, now()):
        return fenced_from
    raise FenceTooSlow(token.key, token.epoch, FENCE_TRIES)
