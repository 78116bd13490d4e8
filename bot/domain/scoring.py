"""Points: how a grade turns into points on the ledger."""

from __future__ import annotations

POINTS_PER_ANSWER = 10


def points_for_score(score: float) -> int:
    """Return the points a grade of this score is worth (0 to POINTS_PER_ANSWER)."""
    clamped = min(1.0, max(0.0, score))
    return round(clamped * POINTS_PER_ANSWER)


def answer_award(score: float, previous_best: float | None) -> int:
    """Return the points to add for a new grade: only the improvement over the best so far.

    A member may answer a question again; the best grade counts, so points only ever grow and
    a weaker retry earns nothing.
    """
    gained = points_for_score(score) - points_for_score(previous_best or 0.0)
    return max(0, gained)


# Drills: a first pass of a drill, a personal best beyond the timing noise, a new first place.
POINTS_DRILL_PASSED = 15
POINTS_DRILL_PERSONAL_BEST = 5
POINTS_DRILL_FIRST_PLACE = 10


def drill_awards(
    *, first_pass: bool, personal_best: bool, first_place: bool
) -> tuple[tuple[str, int], ...]:
    """Return the (reason, points) a judged passing submission earns.

    Points come for the first pass of a drill only (resubmitting the same code earns nothing),
    and for each measurable improvement: a personal best, or taking first place.
    """
    awards: list[tuple[str, int]] = []
    if first_pass:
        awards.append(("passed", POINTS_DRILL_PASSED))
    if personal_best:
        awards.append(("best", POINTS_DRILL_PERSONAL_BEST))
    if first_place:
        awards.append(("first", POINTS_DRILL_FIRST_PLACE))
    return tuple(awards)
