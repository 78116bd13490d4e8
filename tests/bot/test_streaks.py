"""Streak rules with an injected clock: local days, DST, travel, freezes, retried events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.streaks import (
    ActiveDay,
    Streak,
    check_remind_hour,
    fold,
    local_day,
    on_day,
    reminder_due,
)


def days_at(instants: list[tuple[datetime, str]]) -> list[ActiveDay]:
    """Turn (UTC instant, zone in force) pairs into the active days the ledger would store."""
    return [ActiveDay(local_day(at, tz), tz) for at, tz in instants]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_a_member_east_of_utc_answering_at_half_past_midnight_counts_their_own_day() -> None:
    # 00:30 in Tokyo is 15:30 UTC the day before: the local day is the next calendar day.
    at = utc(2026, 3, 1, 15, 30)
    assert local_day(at, "Asia/Tokyo") == date(2026, 3, 2)
    evening = utc(2026, 3, 1, 11, 0)  # 20:00 Tokyo on 1 March
    streak = fold(days_at([(evening, "Asia/Tokyo"), (at, "Asia/Tokyo")]))
    assert streak.run == 2 and streak.last_day == date(2026, 3, 2)


@pytest.mark.parametrize(
    "start",
    [utc(2026, 3, 6, 4, 0), utc(2026, 10, 30, 4, 0)],  # US spring forward 8 Mar, fall back 1 Nov
    ids=["spring-forward", "fall-back"],
)
def test_dst_in_both_directions_neither_breaks_nor_doubles_a_day(start: datetime) -> None:
    tz = "America/New_York"
    # Every evening at 23:30 local for five days across the change, and a missed day after.
    instants = []
    local = start.astimezone(ZoneInfo(tz)).replace(hour=23, minute=30)
    for n in range(5):
        instants.append(((local + timedelta(days=n)).astimezone(UTC), tz))
    streak = fold(days_at(instants))
    assert streak.run == 5 and streak.longest == 5
    # The 23-hour (or 25-hour) day with nothing done is still a missed day.
    later = ((local + timedelta(days=6)).astimezone(UTC), tz)
    assert fold(days_at([*instants, later])).run == 1


def test_a_retried_grade_and_a_second_event_on_one_day_count_the_day_once() -> None:
    at = utc(2026, 5, 1, 12)
    once = fold(days_at([(at, "UTC")]))
    twice = fold(days_at([(at, "UTC"), (at, "UTC"), (at + timedelta(hours=3), "UTC")]))
    assert once == twice and twice.run == 1


def test_travel_west_does_not_double_and_travel_east_does_not_break() -> None:
    # Tokyo Tue 08:00, then two hours later in Los Angeles it is Monday evening: no new day.
    tokyo = utc(2026, 5, 4, 23, 0)  # Tue 5 May 08:00 JST
    la = utc(2026, 5, 5, 1, 0)  # Mon 4 May 18:00 PDT
    assert local_day(la, "America/Los_Angeles") == date(2026, 5, 4)
    west = fold(days_at([(tokyo, "Asia/Tokyo"), (la, "America/Los_Angeles")]))
    assert west.run == 1 and west.last_day == date(2026, 5, 5)
    # Los Angeles Mon 20:00, a flight, Tokyo Wed 05:00: Tuesday never happened for them.
    la_evening = utc(2026, 5, 5, 3, 0)  # Mon 4 May 20:00 PDT
    tokyo_morning = utc(2026, 5, 5, 20, 0)  # Wed 6 May 05:00 JST
    assert local_day(tokyo_morning, "Asia/Tokyo") == date(2026, 5, 6)
    east = fold(days_at([(la_evening, "America/Los_Angeles"), (tokyo_morning, "Asia/Tokyo")]))
    assert east.run == 2
    # The same calendar gap with no zone change is a missed day.
    same = fold(days_at([(la_evening, "UTC"), (la_evening + timedelta(days=2), "UTC")]))
    assert same.run == 1


def test_a_time_zone_change_mid_streak_keeps_the_run() -> None:
    instants = [(utc(2026, 6, d, 18), "Europe/Berlin") for d in (1, 2, 3)]
    instants += [(utc(2026, 6, d, 18), "America/Chicago") for d in (4, 5)]
    streak = fold(days_at(instants))
    assert streak.run == 5 and streak.last_tz == "America/Chicago"


def test_freezes_are_earned_every_seven_days_capped_and_spent_on_missed_days() -> None:
    week = [ActiveDay(date(2026, 1, d), "UTC") for d in range(1, 8)]
    assert fold(week).freezes == 1
    three_weeks = [ActiveDay(date(2026, 1, 1) + timedelta(days=n), "UTC") for n in range(21)]
    assert fold(three_weeks).freezes == 2  # at most two held
    # One missed day is covered by the freeze and the run goes on (the frozen day adds nothing).
    after_gap = fold([*week, ActiveDay(date(2026, 1, 9), "UTC")])
    assert after_gap.run == 8 and after_gap.freezes == 0
    # Two missed days with one freeze held: the run starts again.
    broken = fold([*week, ActiveDay(date(2026, 1, 10), "UTC")])
    assert broken.run == 1 and broken.longest == 7 and broken.freezes == 1


def test_the_streak_on_a_day_spends_freezes_and_says_when_it_is_at_risk() -> None:
    streak = fold([ActiveDay(date(2026, 1, d), "UTC") for d in range(1, 8)])
    assert on_day(streak, date(2026, 1, 7)).done_today
    tomorrow = on_day(streak, date(2026, 1, 8))
    assert tomorrow.current == 7 and tomorrow.at_risk and tomorrow.freezes == 1
    frozen = on_day(streak, date(2026, 1, 9))
    assert frozen.current == 7 and frozen.freezes == 0 and frozen.at_risk
    gone = on_day(streak, date(2026, 1, 10))
    assert gone.current == 0 and gone.longest == 7
    assert on_day(Streak(), date(2026, 1, 1)).current == 0


def test_the_reminder_comes_once_at_the_local_hour_only_when_the_streak_is_at_risk() -> None:
    streak = fold([ActiveDay(date(2026, 1, 1), "Asia/Kolkata")])
    at_19 = utc(2026, 1, 2, 13, 30)  # 19:00 in Kolkata
    kw = {"tz": "Asia/Kolkata", "reminded_on": None}
    assert reminder_due(streak, now=at_19, hour=19, **kw)  # type: ignore[arg-type]
    assert not reminder_due(streak, now=at_19, hour=None, **kw)  # type: ignore[arg-type]
    assert not reminder_due(streak, now=at_19 + timedelta(hours=1), hour=19, **kw)  # type: ignore[arg-type]
    assert not reminder_due(
        streak, now=at_19, hour=19, tz="Asia/Kolkata", reminded_on=date(2026, 1, 2)
    )
    done = fold([ActiveDay(date(2026, 1, 1), "UTC"), ActiveDay(date(2026, 1, 2), "UTC")])
    assert not reminder_due(done, now=at_19, hour=19, **kw)  # type: ignore[arg-type]
    assert check_remind_hour(0) == 0 and check_remind_hour(23) == 23
    with pytest.raises(ValueError, match="hour of the day"):
        check_remind_hour(25)
