"""Streaks: consecutive local days with at least one qualifying thing done, fair across zones.

A day is the member's own local day in the zone they were in when they acted (their `/me
timezone`, else the cohort's). The rules:

- days are folded in the order they happened; a day that is not after the last counted one
  (a retried grade, a second answer, or travel west landing on a day already counted) changes
  nothing, so nothing is ever counted twice;
- the next calendar day extends the run; so does a later day when the member changed zone and
  less than a whole real day passed between the end of the last counted day and the start of this
  one (flying east can skip a calendar date that never really existed for the member);
- every 7th day of a run earns a freeze, at most `MAX_FREEZES` held; missed days are covered by
  freezes automatically while there are enough, and the run goes on (a frozen day adds nothing);
  otherwise the run starts again at 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MAX_FREEZES = 2
FREEZE_EVERY = 7
# A gap shorter than this between two counted days can only come from a zone change: a whole
# missed day is at least 23 hours long (the day clocks spring forward).
_WHOLE_DAY = timedelta(hours=23)


@dataclass(frozen=True)
class ActiveDay:
    """A local day on which the member did something, and the zone it was counted in."""

    day: date
    tz: str


@dataclass(frozen=True)
class Streak:
    """A member's streak as of the last counted day."""

    run: int = 0
    longest: int = 0
    freezes: int = 0
    last_day: date | None = None
    last_tz: str | None = None


@dataclass(frozen=True)
class StreakToday:
    """A streak as it stands on a given local day."""

    current: int
    longest: int
    freezes: int  # held after spending what the missed days needed
    done_today: bool
    at_risk: bool  # alive, but nothing done today yet


def local_day(at: datetime, tz: str) -> date:
    """Return the local date of an instant in a zone."""
    if at.tzinfo is None:
        raise ValueError("local_day needs a timezone-aware instant")
    return at.astimezone(ZoneInfo(tz)).date()


def day_start(day: date, tz: str) -> datetime:
    """Return the instant (UTC) a local day begins in a zone."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _follows(last: ActiveDay, nxt: ActiveDay) -> bool:
    if (nxt.day - last.day).days == 1:
        return True
    if last.tz == nxt.tz:
        return False
    gap = day_start(nxt.day, nxt.tz) - day_start(last.day + timedelta(days=1), last.tz)
    return gap < _WHOLE_DAY


def extend(streak: Streak, active: ActiveDay) -> Streak:
    """Return the streak after one more active day (in the order the days happened)."""
    if streak.last_day is None or streak.last_tz is None:
        run, freezes = 1, streak.freezes
    else:
        last = ActiveDay(streak.last_day, streak.last_tz)
        if active.day <= last.day:
            return streak  # already counted: a retry, a second event, or travel west
        run, freezes = streak.run, streak.freezes
        if _follows(last, active):
            run += 1
        else:
            missed = (active.day - last.day).days - 1
            if missed <= freezes:
                freezes -= missed
                run += 1
            else:
                run = 1
    if run % FREEZE_EVERY == 0:
        freezes = min(MAX_FREEZES, freezes + 1)
    return Streak(run, max(streak.longest, run), freezes, active.day, active.tz)


def fold(days: Iterable[ActiveDay], start: Streak | None = None) -> Streak:
    """Return the streak after these active days, taken in the order they happened."""
    streak = start or Streak()
    for active in days:
        streak = extend(streak, active)
    return streak


def on_day(streak: Streak, today: date) -> StreakToday:
    """Return the streak as it stands on `today` (the member's local date now).

    Missed days before today are covered by held freezes when there are enough; today itself is
    never missed yet, only at risk.
    """
    if streak.last_day is None:
        return StreakToday(0, streak.longest, streak.freezes, False, False)
    gap = (today - streak.last_day).days
    if gap <= 0:  # done today (or on a later date, before travelling west)
        return StreakToday(streak.run, streak.longest, streak.freezes, True, False)
    missed = gap - 1
    if missed <= streak.freezes:
        return StreakToday(streak.run, streak.longest, streak.freezes - missed, False, True)
    return StreakToday(0, streak.longest, streak.freezes, False, False)


def reminder_due(
    streak: Streak, *, now: datetime, tz: str, hour: int | None, reminded_on: date | None
) -> bool:
    """Tell whether an opted-in member should get their streak reminder now.

    Once per local day, in the member's reminder hour, only when a live streak is at risk.
    """
    if hour is None:
        return False
    local = now.astimezone(ZoneInfo(tz))
    if local.hour != hour or reminded_on == local.date():
        return False
    today = on_day(streak, local.date())
    return today.at_risk and today.current > 0


def check_remind_hour(hour: int) -> int:
    """Return a reminder hour if it is a whole hour of the day, else raise ValueError."""
    if not 0 <= hour <= 23:
        raise ValueError(f"{hour} is not an hour of the day; use 0 to 23")
    return hour
