"""Leaderboard rules: order, ties, periods and pages. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

PERIODS = ("week", "month", "all")
METRICS = ("points", "streak", "mocks", "drills")
PAGE_SIZE = 10
_NEVER = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Ranked:
    """One member's place on a board."""

    rank: int
    member_id: int
    value: int
    achieved_at: datetime | None


def rank(rows: Iterable[tuple[int, int, datetime | None]]) -> list[Ranked]:
    """Rank (member, value, reached at) rows: higher first; a tie goes to who got there first.

    The member id breaks what is left, so the order never depends on the database's whim.
    """
    ordered = sorted((r for r in rows if r[1] > 0), key=lambda r: (-r[1], r[2] or _NEVER, r[0]))
    return [Ranked(n, m, v, at) for n, (m, v, at) in enumerate(ordered, start=1)]


def period_start(period: str, today: date) -> date | None:
    """Return the first local day a period counts (the week starts on Monday); None for all."""
    if period == "week":
        return today - timedelta(days=today.weekday())
    if period == "month":
        return today.replace(day=1)
    return None


def page_count(total: int, page_size: int = PAGE_SIZE) -> int:
    """Return how many pages a board of `total` rows has (an empty board has one, empty)."""
    return max(1, -(-total // page_size))


def check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    """Return a lower-cased choice if allowed, else raise ValueError naming the choices."""
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise ValueError(f"{value!r} is not a {what}; use one of {', '.join(allowed)}")
    return cleaned
