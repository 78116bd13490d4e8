"""Repository functions for mock interviews: the queue, rooms and their timer announcements.

Every function takes the session and never commits: the service's unit of work commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ARRAY, DateTime, Integer, bindparam, cast, delete, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.claims import insert_ignoring_duplicates
from bot.store.models import (
    MockAnnouncement,
    MockCohortSetting,
    MockQueueEntry,
    MockRoom,
    MockTurn,
)

OPEN_STATUSES = ("matched", "running", "paused", "scoring")
TIMED_STATUSES = ("running",)


async def queue_entry(
    session: AsyncSession, *, cohort_id: int, member_id: int
) -> MockQueueEntry | None:
    """Return a member's place in the cohort's mock queue, if they wait."""
    result = await session.execute(
        select(MockQueueEntry).where(
            MockQueueEntry.cohort_id == cohort_id, MockQueueEntry.member_id == member_id
        )
    )
    return result.scalars().first()


async def add_queue_entry(session: AsyncSession, *, entry: MockQueueEntry) -> MockQueueEntry:
    """Put a member in the queue."""
    session.add(entry)
    await session.flush()
    return entry


async def waiting_in_cohort(
    session: AsyncSession, *, cohort_id: int, kind: str | None = None
) -> Sequence[MockQueueEntry]:
    """Return who waits in a cohort's queue (one kind, or all), oldest first."""
    query = select(MockQueueEntry).where(MockQueueEntry.cohort_id == cohort_id)
    if kind is not None:
        query = query.where(MockQueueEntry.kind == kind)
    result = await session.execute(query.order_by(col(MockQueueEntry.queued_at)))
    return result.scalars().all()


async def remove_queue_entries(session: AsyncSession, *, entry_ids: Sequence[int]) -> int:
    """Take entries out of the queue; return how many were still there."""
    result = await session.execute(
        delete(MockQueueEntry).where(col(MockQueueEntry.id).in_(list(entry_ids)))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def add_room(session: AsyncSession, *, room: MockRoom) -> MockRoom:
    """Create a room and give it its id."""
    session.add(room)
    await session.flush()
    return room


async def get_room(session: AsyncSession, *, room_id: int, lock: bool = False) -> MockRoom | None:
    """Return a room, row-locked until the transaction ends when `lock`."""
    query = select(MockRoom).where(col(MockRoom.id) == room_id)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalars().first()


async def open_room_of_member(session: AsyncSession, *, member_id: int) -> MockRoom | None:
    """Return the open room a member is in, if any (the newest round)."""
    result = await session.execute(
        select(MockRoom)
        .where(
            col(MockRoom.status).in_(OPEN_STATUSES),
            or_(col(MockRoom.interviewer_id) == member_id, col(MockRoom.candidate_id) == member_id),
        )
        .order_by(col(MockRoom.id).desc())
    )
    return result.scalars().first()


async def room_in_channel(
    session: AsyncSession, *, platform: str, workspace_id: str, channel_ids: Sequence[str]
) -> MockRoom | None:
    """Return the newest room whose private room is one of these channels."""
    result = await session.execute(
        select(MockRoom)
        .where(
            MockRoom.platform == platform,
            MockRoom.workspace_id == workspace_id,
            col(MockRoom.channel_id).in_(list(channel_ids)),
        )
        .order_by(col(MockRoom.id).desc())
    )
    return result.scalars().first()


async def members_in_open_rooms(session: AsyncSession, *, cohort_id: int) -> set[int]:
    """Return every member of the cohort who is in an open room."""
    result = await session.execute(
        select(MockRoom.interviewer_id, MockRoom.candidate_id).where(
            MockRoom.cohort_id == cohort_id, col(MockRoom.status).in_(OPEN_STATUSES)
        )
    )
    return {m for row in result.all() for m in row if m is not None}


async def past_rooms(
    session: AsyncSession, *, member_ids: Sequence[int], limit: int = 50
) -> Sequence[MockRoom]:
    """Return rooms these members were in that started, newest first."""
    result = await session.execute(
        select(MockRoom)
        .where(
            or_(
                col(MockRoom.interviewer_id).in_(list(member_ids)),
                col(MockRoom.candidate_id).in_(list(member_ids)),
            ),
            col(MockRoom.started_at).is_not(None),
        )
        .order_by(col(MockRoom.id).desc())
        .limit(limit)
    )
    return result.scalars().all()


async def rooms_due(
    session: AsyncSession, *, now: datetime, limit: int = 200, exclude: Sequence[int] = ()
) -> Sequence[MockRoom]:
    """Return running rooms whose next announcement is due (but the excluded ones)."""
    query = select(MockRoom).where(
        col(MockRoom.status).in_(TIMED_STATUSES), col(MockRoom.next_due_at) <= now
    )
    if exclude:
        query = query.where(col(MockRoom.id).not_in(list(exclude)))
    result = await session.execute(query.order_by(col(MockRoom.next_due_at)).limit(limit))
    return result.scalars().all()


async def next_due(session: AsyncSession, *, exclude: Sequence[int] = ()) -> datetime | None:
    """Return when the next announcement of any running room falls (but the excluded ones)."""
    query = select(col(MockRoom.next_due_at)).where(
        col(MockRoom.status).in_(TIMED_STATUSES), col(MockRoom.next_due_at).is_not(None)
    )
    if exclude:
        query = query.where(col(MockRoom.id).not_in(list(exclude)))
    result = await session.execute(query.order_by(col(MockRoom.next_due_at)).limit(1))
    return result.scalar()


async def open_rooms(session: AsyncSession) -> Sequence[MockRoom]:
    """Return every open room (for re-arming timers and closing idle rooms)."""
    result = await session.execute(
        select(MockRoom).where(col(MockRoom.status).in_(OPEN_STATUSES)).order_by(col(MockRoom.id))
    )
    return result.scalars().all()


async def stale_rooms(
    session: AsyncSession, *, matched_before: datetime, touched_before: datetime
) -> Sequence[MockRoom]:
    """Return rooms that may be stale: matched long ago, or left untouched while not running."""
    result = await session.execute(
        select(MockRoom)
        .where(
            or_(
                (col(MockRoom.status) == "matched") & (col(MockRoom.matched_at) <= matched_before),
                col(MockRoom.status).in_(("matched", "paused", "scoring"))
                & (col(MockRoom.last_activity_at) <= touched_before),
            )
        )
        .order_by(col(MockRoom.id))
    )
    return result.scalars().all()


async def update_room(session: AsyncSession, *, room_id: int, **changes: object) -> None:
    """Write changes to a room."""
    await session.execute(
        update(MockRoom)
        .where(col(MockRoom.id) == room_id)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )


async def set_status_message(session: AsyncSession, *, room_id: int, message_id: str) -> bool:
    """Record a room's status message unless one is recorded already; False if one was."""
    result = await session.execute(
        update(MockRoom)
        .where(col(MockRoom.id) == room_id, col(MockRoom.status_message_id).is_(None))
        .values(status_message_id=message_id)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def update_room_if_unchanged(
    session: AsyncSession,
    *,
    room_id: int,
    next_due_at: datetime | None,
    changes: dict[str, object],
) -> bool:
    """Write changes to a running room whose next_due_at is still the one read; else False."""
    condition = (
        col(MockRoom.next_due_at).is_(None)
        if next_due_at is None
        else col(MockRoom.next_due_at) == next_due_at
    )
    result = await session.execute(
        update(MockRoom)
        .where(col(MockRoom.id) == room_id, col(MockRoom.status) == "running", condition)
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RoomMove:
    """A running room's timer moved on: its next announcement, and its last new message."""

    room_id: int
    read_next_due_at: datetime | None  # the next_due_at the timer read (compare-and-set)
    next_due_at: datetime | None
    last_new_message_at: datetime | None = None  # None: unchanged


async def move_rooms_if_unchanged(session: AsyncSession, *, moves: Sequence[RoomMove]) -> set[int]:
    """Move running rooms whose next_due_at is still the one read; return the ids moved.

    On PostgreSQL one UPDATE ... FROM unnest(arrays) moves them all; elsewhere (the embedded
    SQLite, a room or two at a time) one compare-and-set a room.
    """
    if not moves:
        return set()
    if session.get_bind().dialect.name != "postgresql":
        moved: set[int] = set()
        for m in moves:
            changes: dict[str, object] = {"next_due_at": m.next_due_at}
            if m.last_new_message_at is not None:
                changes["last_new_message_at"] = m.last_new_message_at
            if await update_room_if_unchanged(
                session, room_id=m.room_id, next_due_at=m.read_next_due_at, changes=changes
            ):
                moved.add(m.room_id)
        return moved
    result = await session.execute(
        _MOVE_ROOMS,
        {
            "room_ids": [m.room_id for m in moves],
            "read_due": [m.read_next_due_at for m in moves],
            "next_due": [m.next_due_at for m in moves],
            "new_message_at": [m.last_new_message_at for m in moves],
        },
    )
    return set(result.scalars().all())


def _move_rooms() -> Any:
    """Build the UPDATE that moves many rooms from arrays, once: one compiled statement."""
    rooms = MockRoom.__table__  # type: ignore[attr-defined]
    when = DateTime(timezone=True)
    names = ("room_ids", "read_due", "next_due", "new_message_at")
    types = (ARRAY(Integer), ARRAY(when), ARRAY(when), ARRAY(when))
    moves = (
        func.unnest(*(bindparam(name, type_=kind) for name, kind in zip(names, types, strict=True)))
        .table_valued(*names)
        .render_derived(name="moves")
    )
    read_due, next_due, new_message_at = (cast(moves.c[name], when) for name in names[1:])
    return (
        update(rooms)
        .where(
            rooms.c.id == cast(moves.c.room_ids, Integer),
            rooms.c.status == "running",
            rooms.c.next_due_at.is_not_distinct_from(read_due),
        )
        .values(
            next_due_at=next_due,
            last_new_message_at=func.coalesce(new_message_at, rooms.c.last_new_message_at),
        )
        .returning(rooms.c.id)
    )


_MOVE_ROOMS = _move_rooms()


async def announcement_keys(session: AsyncSession, *, room_id: int) -> set[str]:
    """Return the keys of every announcement made (or dropped) in a room."""
    result = await session.execute(
        select(MockAnnouncement.key).where(MockAnnouncement.room_id == room_id)
    )
    return set(result.scalars().all())


async def announcement_keys_of(
    session: AsyncSession, *, room_ids: Sequence[int]
) -> dict[int, set[str]]:
    """Return the keys of every announcement made (or dropped) in each of these rooms."""
    found: dict[int, set[str]] = {room_id: set() for room_id in room_ids}
    if not found:
        return found
    result = await session.execute(
        select(MockAnnouncement.room_id, MockAnnouncement.key).where(
            col(MockAnnouncement.room_id).in_(list(found))
        )
    )
    for room_id, key in result.all():
        found[room_id].add(key)
    return found


Keyed = TypeVar("Keyed", MockAnnouncement, MockTurn)


async def insert_once(session: AsyncSession, *, rows: Sequence[Keyed]) -> set[tuple[int, str]]:
    """Insert rows keyed UNIQUE (room, key) at once, skipping the keys already there.

    Return the (room, key) pairs this call inserted: a retry, a second process or a replay
    finds its rows there and inserts nothing twice. All rows are of one table.
    """
    if not rows:
        return set()
    table = type(rows[0]).__table__  # type: ignore[attr-defined]
    names = [c.name for c in table.columns if c.name != "id"]
    result = await session.execute(
        insert_ignoring_duplicates(session, table)
        .on_conflict_do_nothing(index_elements=["room_id", "key"])
        .returning(table.c.room_id, table.c.key),
        [{name: getattr(row, name) for name in names} for row in rows],
    )
    return {(room_id, key) for room_id, key in result.all()}


async def record_announcements(
    session: AsyncSession, *, announcements: Sequence[MockAnnouncement]
) -> set[tuple[int, str]]:
    """Record announcements once each; return the (room, key) pairs not recorded before."""
    return await insert_once(session, rows=announcements)


async def announcements(session: AsyncSession, *, room_id: int) -> Sequence[MockAnnouncement]:
    """Return a room's announcements in the order they were made."""
    result = await session.execute(
        select(MockAnnouncement)
        .where(MockAnnouncement.room_id == room_id)
        .order_by(col(MockAnnouncement.sent_at), col(MockAnnouncement.id))
    )
    return result.scalars().all()


async def room_style(session: AsyncSession, *, cohort_id: int) -> str | None:
    """Return how the cohort's mock rooms are opened, or None for the face's default."""
    found = await session.get(MockCohortSetting, cohort_id)
    return None if found is None else found.room_style


async def set_room_style(
    session: AsyncSession, *, cohort_id: int, style: str, now: datetime
) -> None:
    """Set how the cohort's mock rooms are opened."""
    found = await session.get(MockCohortSetting, cohort_id)
    if found is None:
        session.add(MockCohortSetting(cohort_id=cohort_id, room_style=style, updated_at=now))
    else:
        found.room_style = style
        found.updated_at = now
    await session.flush()


async def booked_rooms_due(
    session: AsyncSession, *, now: datetime, since: datetime
) -> Sequence[MockRoom]:
    """Return matched rooms whose booked slot came between `since` and `now`."""
    result = await session.execute(
        select(MockRoom)
        .where(
            MockRoom.status == "matched",
            col(MockRoom.matched_at) <= now,
            col(MockRoom.matched_at) > since,
            col(MockRoom.booked).is_(True),
        )
        .order_by(col(MockRoom.id))
    )
    return result.scalars().all()


async def slots_due(session: AsyncSession, *, now: datetime) -> Sequence[MockQueueEntry]:
    """Return queue entries whose booked slot has come (they now wait like anyone else)."""
    result = await session.execute(
        select(MockQueueEntry)
        .where(col(MockQueueEntry.slot_at).is_not(None), col(MockQueueEntry.slot_at) <= now)
        .order_by(col(MockQueueEntry.slot_at))
    )
    return result.scalars().all()


async def add_turn(session: AsyncSession, *, turn: MockTurn) -> bool:
    """Record a line of a solo mock once; False when that key of that room was recorded."""
    return bool(await insert_once(session, rows=[turn]))


async def turns(session: AsyncSession, *, room_id: int) -> Sequence[MockTurn]:
    """Return a solo mock's conversation in the order it was said."""
    result = await session.execute(
        select(MockTurn).where(MockTurn.room_id == room_id).order_by(col(MockTurn.id))
    )
    return result.scalars().all()


async def solo_rooms(session: AsyncSession, *, statuses: Sequence[str]) -> Sequence[MockRoom]:
    """Return solo rooms (StudyBot interviews) in these states."""
    result = await session.execute(
        select(MockRoom)
        .where(col(MockRoom.interviewer_id).is_(None), col(MockRoom.status).in_(list(statuses)))
        .order_by(col(MockRoom.id))
    )
    return result.scalars().all()


async def slot_came(session: AsyncSession, *, entry_id: int, slot_at: datetime | None) -> bool:
    """Turn a booked entry into a live one at the front (compare-and-set on its slot)."""
    result = await session.execute(
        update(MockQueueEntry)
        .where(col(MockQueueEntry.id) == entry_id, col(MockQueueEntry.slot_at) == slot_at)
        .values(slot_at=None, front=True, queued_at=slot_at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def next_slot(session: AsyncSession, *, now: datetime) -> datetime | None:
    """Return the next booked slot to come: a booked queue entry's or a booked room's."""
    entry = await session.execute(
        select(col(MockQueueEntry.slot_at))
        .where(col(MockQueueEntry.slot_at) > now)
        .order_by(col(MockQueueEntry.slot_at))
        .limit(1)
    )
    room = await session.execute(
        select(col(MockRoom.matched_at))
        .where(
            MockRoom.status == "matched",
            col(MockRoom.booked).is_(True),
            col(MockRoom.matched_at) > now,
        )
        .order_by(col(MockRoom.matched_at))
        .limit(1)
    )
    found = [t for t in (entry.scalar(), room.scalar()) if t is not None]
    return min(found) if found else None
