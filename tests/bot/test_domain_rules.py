"""The rules the services apply, pure: points, today's day, time zones, statuses, names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import pytest

from bot.domain.answers import AnswerStatus
from bot.domain.curriculum import Schedule, day_to_show, schedule_of, today_day
from bot.domain.members import display_name_to_keep, earns_points
from bot.domain.scoring import POINTS_PER_ANSWER, answer_award, points_for_score
from bot.domain.timezones import validate_timezone


@pytest.mark.parametrize(
    ("score", "points"), [(0.0, 0), (0.04, 0), (0.05, 0), (0.06, 1), (0.5, 5), (1.0, 10)]
)
def test_points_for_a_score_at_weight_one(score: float, points: int) -> None:
    assert points_for_score(score, "W") == points


def test_points_never_leave_their_range() -> None:
    assert points_for_score(1.7, "W") == POINTS_PER_ANSWER and points_for_score(-0.2, "W") == 0


@pytest.mark.parametrize(
    ("score", "previous", "award"),
    [
        (0.8, None, 8),  # first grade: all its points
        (0.8, 0.5, 3),  # better: only the improvement
        (0.4, 0.8, 0),  # worse: nothing, never negative
        (0.8, 0.8, 0),  # same: nothing twice
        (0.84, 0.78, 0),  # both round to 8
    ],
)
def test_the_best_grade_counts(score: float, previous: float | None, award: int) -> None:
    assert answer_award(score, previous, "W") == award


@dataclass
class CohortRow:
    timezone: str = "Europe/Berlin"
    post_time: time = time(8, 0)
    start_date: date = date(2026, 11, 27)
    curriculum_length: int = 133
    post_weekdays: str = "0123456"
    day_shift: int = 0


def test_schedule_of_reads_every_field_of_a_cohort() -> None:
    row = CohortRow(post_weekdays="01234", day_shift=-2, curriculum_length=40)
    assert schedule_of(row) == Schedule(
        "Europe/Berlin", time(8, 0), date(2026, 11, 27), 40, "01234", -2
    )


def test_today_is_the_latest_day_due_not_the_calendar_count() -> None:
    # Started five days ago; at 07:00 local the fifth day's post (08:00) is not due yet.
    schedule = schedule_of(CohortRow(start_date=date(2026, 11, 27)))
    before_post = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # 07:00 Berlin
    after_post = datetime(2026, 12, 1, 7, 30, tzinfo=UTC)  # 08:30 Berlin
    assert today_day(schedule, before_post) == 4
    assert today_day(schedule, after_post) == 5


def test_today_keeps_the_last_posted_day_over_a_weekend() -> None:
    schedule = schedule_of(CohortRow(start_date=date(2026, 11, 30), post_weekdays="01234"))
    saturday = datetime(2026, 12, 5, 12, tzinfo=UTC)
    assert today_day(schedule, saturday) == 5  # Mon..Fri posted


def test_outside_the_curriculum_there_is_no_today_but_a_day_to_show() -> None:
    schedule = schedule_of(CohortRow(start_date=date(2026, 12, 7), curriculum_length=3))
    before = datetime(2026, 12, 1, 12, tzinfo=UTC)
    first_morning = datetime(2026, 12, 7, 5, tzinfo=UTC)  # 06:00 Berlin on day 1's date
    after = datetime(2026, 12, 20, 12, tzinfo=UTC)
    assert today_day(schedule, before) is None and day_to_show(schedule, before) == 1
    assert today_day(schedule, first_morning) is None and day_to_show(schedule, first_morning) == 1
    assert today_day(schedule, after) is None and day_to_show(schedule, after) == 3


def test_time_zones_are_iana_names() -> None:
    assert validate_timezone("America/Chicago") == "America/Chicago"
    for bad in ("Berlin", "CEST+2", "", "../etc/passwd"):
        with pytest.raises(ValueError, match="unknown time zone"):
            validate_timezone(bad)


def test_answer_statuses_are_the_stored_values() -> None:
    assert {s.value for s in AnswerStatus} == {"pending", "graded", "self_check"}
    assert AnswerStatus("self_check") is AnswerStatus.SELF_CHECK
    assert not AnswerStatus.PENDING.is_final and AnswerStatus.SELF_CHECK.is_final


def test_a_raw_user_id_never_replaces_a_display_name() -> None:
    assert display_name_to_keep("Ada", "U07AB12CD", "U07AB12CD") == "Ada"
    assert display_name_to_keep("Ada", "", "U07AB12CD") == "Ada"
    assert display_name_to_keep("Ada", "Ada L.", "U07AB12CD") == "Ada L."
    assert display_name_to_keep("", "U07AB12CD", "U07AB12CD") == "U07AB12CD"


def test_only_active_members_earn_points() -> None:
    assert earns_points(is_member=True, active=True)
    assert not earns_points(is_member=True, active=False)
    assert not earns_points(is_member=False, active=False)
