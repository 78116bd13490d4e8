"""Drill leaderboards: the best passing run per member, ranked by time, ties within the noise.

A judge's timing is a median with a measured standard error. Two members whose medians differ
by less than the noise of that difference did not measurably differ, so they share a rank; the
next member after a tie gets the rank after everyone above them (1, 1, 3).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# How many standard errors of the difference two times must be apart to count as different
# (about a 95 % interval on the difference of two independent medians).
TIE_Z = 2.0


@dataclass(frozen=True)
class BoardRun:
    """One passing submission, with the judge's time and its standard error (seconds)."""

    submission_id: int
    member_id: int
    member: str
    time_s: float
    noise_s: float = 0.0
    speedup: float | None = None


@dataclass(frozen=True)
class BoardRow:
    """A member's place on a board: rank, their best run, and whether the rank is shared."""

    rank: int
    run: BoardRun
    tied: bool


def within_noise(a: BoardRun, b: BoardRun, *, z: float = TIE_Z) -> bool:
    """Tell whether two runs' times differ by no more than the noise of their difference."""
    noise = z * math.hypot(a.noise_s, b.noise_s)
    return abs(a.time_s - b.time_s) <= noise


def best_per_member(runs: Iterable[BoardRun]) -> list[BoardRun]:
    """Keep each member's fastest run (the earliest submission on an exact tie)."""
    best: dict[int, BoardRun] = {}
    for run in runs:
        held = best.get(run.member_id)
        if held is None or (run.time_s, run.submission_id) < (held.time_s, held.submission_id):
            best[run.member_id] = run
    return list(best.values())


def rank_board(runs: Iterable[BoardRun], *, z: float = TIE_Z) -> list[BoardRow]:
    """Rank each member's best run by time; runs within the noise of a group's leader tie.

    A run joins the tie group of the fastest run of the group above it only when it is within
    the noise of that leader (not merely of its neighbour), so a slow chain of small steps
    never ties the last with the first.
    """
    ordered = sorted(best_per_member(runs), key=lambda r: (r.time_s, r.submission_id))
    rows: list[BoardRow] = []
    leader: BoardRun | None = None
    rank = 0
    for index, run in enumerate(ordered):
        if leader is None or not within_noise(leader, run, z=z):
            leader, rank = run, index + 1
        rows.append(BoardRow(rank=rank, run=run, tied=False))
    counts: dict[int, int] = {}
    for row in rows:
        counts[row.rank] = counts.get(row.rank, 0) + 1
    return [BoardRow(row.rank, row.run, counts[row.rank] > 1) for row in rows]


def leaders(rows: Sequence[BoardRow]) -> frozenset[int]:
    """Return the member ids sharing first place."""
    return frozenset(row.run.member_id for row in rows if row.rank == 1)


def rank_of(rows: Sequence[BoardRow], member_id: int) -> BoardRow | None:
    """Return a member's row on a board, or None when they have no passing run."""
    return next((row for row in rows if row.run.member_id == member_id), None)


def takes_first_place(
    before: Sequence[BoardRow], after: Sequence[BoardRow], member_id: int
) -> bool:
    """Tell whether a member now holds first place alone, and did not hold it before."""
    now = leaders(after)
    return now == frozenset({member_id}) and member_id not in leaders(before)


def improves_on(new: BoardRun, previous: BoardRun | None, *, z: float = TIE_Z) -> bool:
    """Tell whether a run is a personal best: faster than the previous best beyond the noise."""
    if previous is None:
        return False
    return new.time_s < previous.time_s and not within_noise(new, previous, z=z)
