"""Spaced review: how a grade's verdicts become an FSRS rating. Pure."""

from __future__ import annotations

from collections.abc import Sequence

AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4


def rating_for(score: float, verdicts: Sequence[str] = ()) -> int:
    """Return the FSRS rating (1 Again .. 4 Easy) a graded answer earns.

    Every rubric point covered is Easy; otherwise the score decides: 70% or more is Good, 40%
    or more Hard, less is Again, so a low score brings the question back soonest.
    """
    if verdicts and all(v == "covered" for v in verdicts) and score >= 0.9:
        return EASY
    if score >= 0.7:
        return GOOD
    if score >= 0.4:
        return HARD
    return AGAIN
