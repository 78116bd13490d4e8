"""Who practises with whom: pairing the mock queue, roles, and the scenario a pair gets.

Members wait in one queue per (cohort, kind). The oldest waiter (a member put back at the front
after a no-show counts as oldest) is paired first, with the partner neither of them has met in
their last `REPEAT_WINDOW` mocks when one is waiting, else with the one they met longest ago.
A member already in an open room is never paired; an odd member out keeps their place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

REPEAT_WINDOW = 10


class MockKind(StrEnum):
    """What the pair practises."""

    SYSTEM_DESIGN = "system-design"
    BEHAVIORAL = "behavioral"
    CODING = "coding"


def parse_kind(text: str | None) -> MockKind | None:
    """Return the kind a member typed (default system design), or None when it is unknown."""
    if text is None or not text.strip():
        return MockKind.SYSTEM_DESIGN
    cleaned = text.strip().lower().replace("_", "-").replace(" ", "-")
    aliases = {
        "design": "system-design",
        "systemdesign": "system-design",
        "behavioural": "behavioral",
    }
    cleaned = aliases.get(cleaned, cleaned)
    try:
        return MockKind(cleaned)
    except ValueError:
        return None


@dataclass(frozen=True)
class Waiting:
    """A member in the queue."""

    member_id: int
    cohort_id: int
    kind: str
    queued_at: datetime
    front: bool = False  # put back at the front after their partner did not show
    slot: datetime | None = None  # a booked slot: matched only with the same slot


@dataclass(frozen=True)
class Pair:
    """Two members to put in a room; the interviewer goes first."""

    interviewer: Waiting
    candidate: Waiting
    repeat: bool  # they met within the window: no fresh partner was waiting


def _order(w: Waiting) -> tuple[bool, datetime, int]:
    return (not w.front, w.queued_at, w.member_id)


def _pool(w: Waiting) -> tuple[int, str, datetime | None]:
    return (w.cohort_id, w.kind, w.slot)


def met_recently(a: int, b: int, history: Mapping[int, Sequence[int]]) -> bool:
    """Tell whether a and b met in either one's last REPEAT_WINDOW mocks (newest first)."""
    return b in history.get(a, ())[:REPEAT_WINDOW] or a in history.get(b, ())[:REPEAT_WINDOW]


def _last_met_rank(a: int, b: int, history: Mapping[int, Sequence[int]]) -> int:
    """Return how many mocks ago a and b last met (larger is longer ago)."""
    ranks = [len(history.get(a, ())) + 1]
    for x, y in ((a, b), (b, a)):
        partners = list(history.get(x, ()))
        if y in partners:
            ranks.append(partners.index(y))
    return min(ranks)


def match_queue(
    waiting: Iterable[Waiting],
    *,
    history: Mapping[int, Sequence[int]],
    in_room: Iterable[int] = (),
    interviewed: Mapping[int, int] | None = None,
) -> list[Pair]:
    """Pair the queue: same cohort, kind and slot; fresh partners first; oldest waiter first.

    `history` holds each member's past partners, newest first; `interviewed` how many times
    each member was the interviewer (the one who was it less often interviews now).
    """
    busy = set(in_room)
    queue = sorted((w for w in waiting if w.member_id not in busy), key=_order)
    taken: set[int] = set()
    pairs: list[Pair] = []
    counts = interviewed or {}
    for first in queue:
        if first.member_id in taken:
            continue
        options = [
            w
            for w in queue
            if w.member_id not in taken
            and w.member_id != first.member_id
            and _pool(w) == _pool(first)
        ]
        if not options:
            continue
        fresh = [w for w in options if not met_recently(first.member_id, w.member_id, history)]
        if fresh:
            partner, repeat = fresh[0], False
        else:
            partner = max(
                options, key=lambda w: _last_met_rank(first.member_id, w.member_id, history)
            )
            repeat = True
        taken.update((first.member_id, partner.member_id))
        a, b = first, partner
        if counts.get(b.member_id, 0) < counts.get(a.member_id, 0):
            a, b = b, a
        pairs.append(Pair(interviewer=a, candidate=b, repeat=repeat))
    return pairs


def queue_position(waiting: Iterable[Waiting], member_id: int) -> int | None:
    """Return the member's 1-based place among those waiting for the same mock, or None."""
    entries = list(waiting)
    mine = next((w for w in entries if w.member_id == member_id), None)
    if mine is None:
        return None
    same = sorted(
        (
            w
            for w in entries
            if (w.cohort_id, w.kind, w.slot) == (mine.cohort_id, mine.kind, mine.slot)
        ),
        key=_order,
    )
    return [w.member_id for w in same].index(member_id) + 1


def pick_scenario(
    scenarios: Sequence[str], *, seen_by_a: Iterable[str], seen_by_b: Iterable[str]
) -> str:
    """Return the first scenario neither member has had; else the one they had least."""
    if not scenarios:
        raise ValueError("there is no scenario to choose from")
    seen_a, seen_b = list(seen_by_a), list(seen_by_b)
    for scenario in scenarios:
        if scenario not in seen_a and scenario not in seen_b:
            return scenario
    return min(scenarios, key=lambda s: (seen_a.count(s) + seen_b.count(s), scenarios.index(s)))


class ReleaseReason(StrEnum):
    """Why a matched pair's room closed before it started."""

    LEFT = "left"
    NO_SHOW = "no-show"


def requeue_after_release(
    *, reason: ReleaseReason, leaver: int | None, members: Sequence[int], confirmed: Iterable[int]
) -> list[int]:
    """Return who goes back to the front of the queue when an unstarted room is released.

    The member who left, or who did not confirm in time, is out; the partner who is still there
    (confirmed, for a no-show) waits at the front.
    """
    ok = set(confirmed)
    if reason == ReleaseReason.LEFT:
        return [m for m in members if m != leaver]
    return [m for m in members if m in ok]
