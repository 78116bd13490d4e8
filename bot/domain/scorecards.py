"""The mock scorecard: the guide's aspects on the guide's scale, flags, and the points per role."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# The guide's scale: its rubric says what "good" and "great" look like on each aspect.
SCALE = ("not-yet", "good", "great")
SCALE_LABELS = {"not-yet": "not yet", "good": "good = hire", "great": "great = strong hire"}
POINTS_PER_ROLE = {"interviewer": 15, "candidate": 20}


def parse_level(text: str) -> str | None:
    """Return the scale level a member typed ("great", "strong hire", "not yet"), or None."""
    cleaned = text.strip().lower().replace("_", "-").replace(" ", "-")
    aliases = {"hire": "good", "strong-hire": "great", "no": "not-yet", "notyet": "not-yet"}
    cleaned = aliases.get(cleaned, cleaned)
    return cleaned if cleaned in SCALE else None


@dataclass(frozen=True)
class Scorecard:
    """What the interviewer filled in."""

    ratings: dict[str, str]
    red_flags: tuple[str, ...]
    green_flags: tuple[str, ...]
    comment: str


def check_scorecard(
    *,
    aspects: Sequence[str],
    ratings: Mapping[str, str],
    flags: Sequence[str],
    red_flags: Sequence[str],
    green_flags: Sequence[str],
    comment: str,
) -> Scorecard:
    """Return the scorecard, or raise ValueError with the one sentence that says what is wrong."""
    by_name = {a.lower(): a for a in aspects}
    clean: dict[str, str] = {}
    for name, level in ratings.items():
        aspect = by_name.get(name.strip().lower())
        if aspect is None:
            raise ValueError(f"{name!r} is not an aspect of the scorecard: {', '.join(aspects)}.")
        parsed = parse_level(level)
        if parsed is None:
            raise ValueError(f"Rate {aspect} as one of: {', '.join(SCALE)} (got {level!r}).")
        clean[aspect] = parsed
    missing = [a for a in aspects if a not in clean]
    if missing:
        raise ValueError(f"Rate every aspect; missing: {', '.join(missing)}.")
    reds: list[str] = []
    greens: list[str] = []
    red_by = {f.lower(): f for f in red_flags}
    green_by = {f.lower(): f for f in green_flags}
    for flag in flags:
        key = flag.strip().lower()
        if not key:
            continue
        if key in red_by:
            reds.append(red_by[key])
        elif key in green_by:
            greens.append(green_by[key])
        else:
            raise ValueError(f"{flag.strip()!r} is not one of the guide's red or green flags.")
    return Scorecard(clean, tuple(reds), tuple(greens), comment.strip())


def summary(ratings: Mapping[str, str]) -> str:
    """Return a one-line summary of ratings: "3 great, 4 good"."""
    counts = {level: sum(1 for v in ratings.values() if v == level) for level in SCALE}
    parts = [f"{n} {SCALE_LABELS[level].split(' =')[0]}" for level, n in counts.items() if n]
    return ", ".join(reversed(parts)) or "not scored"
