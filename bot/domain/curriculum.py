"""Which curriculum day a cohort is on, and when its next post is due, in its own time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

ALL_WEEKDAYS = "0123456"
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class Schedule:
    """A cohort's posting schedule: local post time on chosen weekdays from a start date."""

    timezone: str
    post_time: time
    start_date: date
    curriculum_length: int
    post_weekdays: str = ALL_WEEKDAYS
    day_shift: int = 0

    @property
    def zone(self) -> ZoneInfo:
        """Return the cohort's time zone."""
        return ZoneInfo(self.timezone)

    def posts_on(self, local_date: date) -> bool:
        """Tell whether the cohort posts on this local date's weekday."""
        return str(local_date.weekday()) in self.post_weekdays


class ScheduledCohort(Protocol):
    """What a schedule is read from: a cohort as the store keeps it."""

    @property
    def timezone(self) -> str: ...
    @property
    def post_time(self) -> time: ...
    @property
    def start_date(self) -> date: ...
    @property
    def curriculum_length(self) -> int: ...
    @property
    def post_weekdays(self) -> str: ...
    @property
    def day_shift(self) -> int: ...


def schedule_of(cohort: ScheduledCohort) -> Schedule:
    """Return a cohort's posting schedule."""
    return Schedule(
        timezone=cohort.timezone,
        post_time=cohort.post_time,
        start_date=cohort.start_date,
        curriculum_length=cohort.curriculum_length,
        post_weekdays=cohort.post_weekdays,
        day_shift=cohort.day_shift,
    )


@dataclass(frozen=True)
class Slot:
    """One scheduled post: curriculum day, local date and the UTC instant it is due."""

    day: int
    local_date: date
    due_at: datetime


def parse_weekdays(text: str) -> str:
    """Parse 'mon-fri', 'mon,wed,fri', 'daily' or 'weekdays' into a digit string (Mon=0)."""
    text = text.strip().lower()
    if text in ("", "daily", "all", "every day"):
        return ALL_WEEKDAYS
    if text == "weekdays":
        return "01234"
    names = [n.lower() for n in WEEKDAY_NAMES]
    chosen: set[int] = set()
    for part in text.replace(" ", "").split(","):
        if "-" in part:
            first, last = part.split("-", 1)
            if first[:3] not in names or last[:3] not in names:
                raise ValueError(f"unknown weekday range {part!r}; use e.g. mon-fri")
            a, b = names.index(first[:3]), names.index(last[:3])
            span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
            chosen.update(span)
        elif part[:3] in names:
            chosen.add(names.index(part[:3]))
        else:
            raise ValueError(f"unknown weekday {part!r}; use mon, tue, wed, thu, fri, sat, sun")
    return "".join(str(d) for d in sorted(chosen))


def describe_weekdays(digits: str) -> str:
    """Render a weekday digit string for people ('every day', 'Mon, Wed, Fri')."""
    if digits == ALL_WEEKDAYS:
        return "every day"
    if digits == "01234":
        return "Mon-Fri"
    return ", ".join(WEEKDAY_NAMES[int(d)] for d in digits)


def local_due_at(local_date: date, post_time: time, zone: ZoneInfo) -> datetime:
    """Return the UTC instant of a local wall-clock time, DST-correct.

    A wall time that does not exist (the spring-forward gap) is moved to the first minute after
    the gap; an ambiguous one (the fall-back hour) is taken at its first occurrence.
    """
    naive = datetime.combine(local_date, post_time)
    for _ in range(24 * 60):
        aware = naive.replace(tzinfo=zone, fold=0)
        if aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == naive:
            return aware.astimezone(UTC)
        naive += timedelta(minutes=1)
    raise ValueError(f"no valid local time near {local_date} {post_time} in {zone}")


def posting_days_between(schedule: Schedule, first: date, last: date) -> int:
    """Count the posting weekdays in [first, last]."""
    if last < first:
        return 0
    total = (last - first).days + 1
    weeks, rest = divmod(total, 7)
    count = weeks * len(schedule.post_weekdays)
    for i in range(rest):
        if schedule.posts_on(first + timedelta(days=weeks * 7 + i)):
            count += 1
    return count


def day_number(schedule: Schedule, local_date: date) -> int:
    """Return the curriculum day posted on this local date (0 or less: not started)."""
    return posting_days_between(schedule, schedule.start_date, local_date) + schedule.day_shift


def latest_slot(schedule: Schedule, now: datetime) -> Slot | None:
    """Return the most recent scheduled post at or before `now`, if within the curriculum."""
    zone = schedule.zone
    local_today = now.astimezone(zone).date()
    for back in range(0, 8):
        candidate = local_today - timedelta(days=back)
        if candidate < schedule.start_date:
            return None
        if not schedule.posts_on(candidate):
            continue
        due = local_due_at(candidate, schedule.post_time, zone)
        if due > now:
            continue
        day = day_number(schedule, candidate)
        if 1 <= day <= schedule.curriculum_length:
            return Slot(day=day, local_date=candidate, due_at=due)
        return None
    return None


def next_slot(schedule: Schedule, now: datetime) -> Slot | None:
    """Return the next scheduled post strictly after `now` (None when the curriculum is over)."""
    zone = schedule.zone
    local_today = max(now.astimezone(zone).date(), schedule.start_date)
    for ahead in range(0, 8 + 7):
        candidate = local_today + timedelta(days=ahead)
        if not schedule.posts_on(candidate):
            continue
        due = local_due_at(candidate, schedule.post_time, zone)
        if due <= now:
            continue
        day = day_number(schedule, candidate)
        if day > schedule.curriculum_length:
            return None
        if day >= 1:
            return Slot(day=day, local_date=candidate, due_at=due)
    return None


def today_day(schedule: Schedule, now: datetime) -> int | None:
    """Return the day a cohort is on at `now`: the latest day that was due; None outside 1..N.

    This is the one definition of "today's day": the day is not today's until its post time
    has passed (before 08:00 the cohort is still on yesterday's day), and weekdays without a
    post keep the last posted day. Status, /today and anything else read it from here.
    """
    slot = latest_slot(schedule, now)
    return slot.day if slot is not None else None


def day_to_show(schedule: Schedule, now: datetime) -> int:
    """Return today's day for showing: day 1 before the first post, the last day after the end."""
    day = today_day(schedule, now)
    if day is not None:
        return day
    finished = (
        day_number(schedule, now.astimezone(schedule.zone).date()) > schedule.curriculum_length
    )
    return schedule.curriculum_length if finished else 1
