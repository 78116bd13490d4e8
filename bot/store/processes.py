"""Repository functions for bot processes and their heartbeats (who is alive, who was)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, exists, or_, select, update

from bot.store.claims import Executor, insert_ignoring_duplicates
from bot.store.models import BotProcess

_processes = BotProcess.__table__  # type: ignore[attr-defined]


async def register_process(
    session: Executor, *, process_id: str, host: str, pid: int, now: datetime
) -> None:
    """Record a process as started and beating now (again, if its row already exists)."""
    await session.execute(
        insert_ignoring_duplicates(session, _processes)
        .values(id=process_id, host=host, pid=pid, started_at=now, heartbeat_at=now)
        .on_conflict_do_update(
            index_elements=["id"], set_={"heartbeat_at": now, "stopped_at": None}
        )
    )


async def beat(session: Executor, *, process_id: str, now: datetime) -> bool:
    """Move a process's heartbeat to now; False when its row is gone (then register again)."""
    result = await session.execute(
        update(_processes)
        .where(_processes.c.id == process_id)
        .values(heartbeat_at=now, stopped_at=None)
        .returning(_processes.c.id)
    )
    return result.scalar() is not None


async def mark_stopped(session: Executor, *, process_id: str, now: datetime) -> None:
    """Record a clean stop: the process's claims may be taken over at once."""
    await session.execute(
        update(_processes).where(_processes.c.id == process_id).values(stopped_at=now)
    )


async def prune_processes(session: Executor, *, last_seen_before: datetime) -> int:
    """Forget processes not seen since `last_seen_before`; return how many."""
    result = await session.execute(
        delete(_processes).where(_processes.c.heartbeat_at < last_seen_before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def any_process_alive_at(
    session: Executor, *, when: datetime, stale_after: timedelta
) -> bool:
    """Tell whether some bot process was running at `when` (by its start and heartbeats).

    A process counts from its start until its stop, or until its last heartbeat plus the
    staleness allowance when it died without stopping.
    """
    query = select(
        exists().where(
            _processes.c.started_at <= when,
            or_(
                _processes.c.stopped_at >= when,
                (
                    _processes.c.stopped_at.is_(None)
                    & (_processes.c.heartbeat_at >= when - stale_after)
                ),
            ),
        )
    )
    return bool((await session.execute(query)).scalar())


async def get_process(session: Executor, *, process_id: str) -> BotProcess | None:
    """Return a process row (for inspection and tests)."""
    row = (await session.execute(select(_processes).where(_processes.c.id == process_id))).first()
    return BotProcess(**row._mapping) if row is not None else None
