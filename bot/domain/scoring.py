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
