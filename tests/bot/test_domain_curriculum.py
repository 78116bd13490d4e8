"""Day numbers and due times in the cohort's own time zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.domain.curriculum import (
    Schedule,
    day_number,
    describe_weekdays,
    latest_slot,
    local_due_at,
    next_slot,
    parse_weekdays,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_due_time_follows_dst_in_the_cohort_zone() -> None:
    # 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer.
    assert local_due_at(date(2026, 3, 28), time(8), BERLIN) == datetime(2026, 3, 28, 7, tzinfo=UTC)
    assert local_due_at(date(2026, 3, 29), time(8), BERLIN) == datetime(2026, 3, 29, 6, tzinfo=UTC)
    assert local_due_at(date(2026, 10, 25), time(8), BERLIN) == datetime(
        2026, 10, 25, 7, tzinfo=UTC
    )


def test_nonexistent_wall_time_moves_to_the_end_of_the_gap() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; the gap ends at 03:00 CEST = 01:00 UTC.
    assert local_due_at(date(2026, 3, 29), time(2, 30), BERLIN) == datetime(
        2026, 3, 29, 1, tzinfo=UTC
    )


def test_ambiguous_wall_time_takes_the_first_occurrence() -> None:
    # 02:30 happens twice on 2026-10-25 in Berlin; first as CEST (00:30 UTC).
    assert local_due_at(date(2026, 10, 25), time(2, 30), BERLIN) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )


def test_day_numbers_count_only_posting_weekdays() -> None:
    schedule = Schedule("Europe/Berlin", time(8), date(2026, 3, 2), 133, "01234")  # Monday
    assert day_number(schedule, date(2026, 3, 2)) == 1
    assert day_number(schedule, date(2026, 3, 6)) == 5  # Friday
    assert day_number(schedule, date(2026, 3, 9)) == 6  # next Monday
    assert day_number(schedule, date(2026, 3, 1)) == 0  # before the start


def test_latest_and_next_slot_respect_local_time_not_utc() -> None:
    # Los Angeles, 21:00 local post: on 2026-12-01 that is 05:00 UTC on 2026-12-02.
    schedule = Schedule("America/Los_Angeles", time(21), date(2026, 12, 1), 133)
    before = datetime(2026, 12, 2, 4, 59, tzinfo=UTC)
    after = datetime(2026, 12, 2, 5, 0, tzinfo=UTC)
    assert latest_slot(schedule, before) is None
    slot = latest_slot(schedule, after)
    assert slot is not None and slot.day == 1 and slot.local_date == date(2026, 12, 1)
    upcoming = next_slot(schedule, after)
    assert upcoming is not None and upcoming.day == 2
    assert upcoming.due_at == datetime(2026, 12, 3, 5, 0, tzinfo=UTC)


def test_no_slot_after_the_curriculum_ends() -> None:
    schedule = Schedule("UTC", time(8), date(2026, 1, 1), 3)
    assert latest_slot(schedule, datetime(2026, 1, 3, 9, tzinfo=UTC)).day == 3  # type: ignore[union-attr]
    assert latest_slot(schedule, datetime(2026, 1, 4, 9, tzinfo=UTC)) is None
    assert next_slot(schedule, datetime(2026, 1, 3, 9, tzinfo=UTC)) is None


def test_skip_shift_repeats_no_day() -> None:
    schedule = Schedule("UTC", time(8), date(2026, 1, 1), 133, day_shift=-1)
    assert day_number(schedule, date(2026, 1, 2)) == 1


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("daily", "0123456"),
        ("weekdays", "01234"),
        ("mon-fri", "01234"),
        ("mon,wed,fri", "024"),
        ("fri-mon", "0456"),
        ("Sunday", "6"),
    ],
)
def test_parse_weekdays(text: str, digits: str) -> None:
    assert parse_weekdays(text) == digits


def test_parse_weekdays_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="unknown weekday"):
        parse_weekdays("funday")
    assert describe_weekdays("024") == "Mon, Wed, Fri"
