"""The pacing rule: announcements from the guide's phases, pauses, extensions and recovery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.pacing import (
    PHASE_SLUGS,
    AnnouncementKind,
    Extension,
    PausedSpan,
    PhasePlan,
    Timeline,
    boundaries,
    due_announcements,
    extension_problem,
    interview_minutes,
    phase_at,
    plan_phases,
)
from content import load_library

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def phases() -> tuple[PhasePlan, ...]:
    return plan_phases(load_library().guide.phases)


def at(minutes: float) -> datetime:
    return START + timedelta(minutes=minutes)


def run_through(timeline: Timeline, until: float, step: float = 0.25) -> list[tuple[str, float]]:
    """Tick every `step` minutes and collect (key, sent minute) the way a timer would."""
    made: list[str] = []
    sent: list[tuple[str, float]] = []
    minute = 0.0
    while minute <= until:
        due = due_announcements(timeline, at(minute), made)
        for a in due.announce:
            made.append(a.key)
            sent.append((a.key, minute))
        made.extend(due.dropped)
        minute += step
    return sent


def test_phases_come_from_the_guide_with_fixed_slugs(phases: tuple[PhasePlan, ...]) -> None:
    assert tuple(p.slug for p in phases) == PHASE_SLUGS
    assert [(p.start_min, p.end_min) for p in phases] == [
        (0, 5),
        (5, 15),
        (15, 30),
        (30, 40),
        (40, 45),
    ]
    assert phases[2].focus and phases[2].deliverables


def test_a_changed_guide_moves_the_schedule(phases: tuple[PhasePlan, ...]) -> None:
    class P:
        def __init__(self, name: str, a: int, b: int) -> None:
            self.name, self.title, self.start_minute, self.end_minute = name, name, a, b
            self.focus, self.deliverables = "f", ["d"]

    names = ["Clarify", "High-Level Design", "Deep Dive", "Scale & Reliability", "Wrap Up"]
    cut = [0, 3, 10, 20, 27, 30]
    plan = plan_phases([P(n, cut[i], cut[i + 1]) for i, n in enumerate(names)])
    keys = {b.key: b.due_min for b in boundaries(Timeline(plan, START))}
    assert keys["end"] == 30 and keys["phase:deep-dive"] == 10 and keys["warning:end"] == 29


def test_unknown_phase_names_are_refused() -> None:
    class P:
        name = title = "Coffee"
        start_minute, end_minute, focus, deliverables = 0, 5, "", []

    with pytest.raises(ValueError, match="Coffee"):
        plan_phases([P()])


def test_full_45_minutes_each_announcement_once(phases: tuple[PhasePlan, ...]) -> None:
    sent = run_through(Timeline(phases, START), 60)
    assert sent == [
        ("phase:clarify", 0),
        ("warning:high-level-design", 4),
        ("phase:high-level-design", 5),
        ("warning:deep-dive", 14),
        ("phase:deep-dive", 15),
        ("warning:scale-reliability", 29),
        ("phase:scale-reliability", 30),
        ("warning:wrap-up", 39),
        ("phase:wrap-up", 40),
        ("warning:end", 44),
        ("end", 45),
    ]


def test_pause_moves_every_later_announcement(phases: tuple[PhasePlan, ...]) -> None:
    timeline = Timeline(phases, START, paused=(PausedSpan(at(10), at(13)),))
    due = {b.key: b.due_min for b in boundaries(timeline)}
    assert due["phase:high-level-design"] == 5  # before the pause: unmoved
    assert due["warning:deep-dive"] == 17 and due["phase:deep-dive"] == 18
    assert due["end"] == 48
    assert interview_minutes(timeline, at(20)) == pytest.approx(17)


def test_nothing_is_due_while_paused(phases: tuple[PhasePlan, ...]) -> None:
    timeline = Timeline(phases, START, paused=(PausedSpan(at(10)),))
    due = due_announcements(timeline, at(40), ["phase:clarify", "warning:high-level-design"])
    assert [a.key for a in due.announce] == ["phase:high-level-design"]  # due at 5, before
    assert due.next_due_at is None
    assert phase_at(timeline, at(40)).minutes_left == pytest.approx(5)  # frozen at minute 10


def test_extend_lengthens_the_phase_in_progress(phases: tuple[PhasePlan, ...]) -> None:
    timeline = Timeline(phases, START, extensions=(Extension(at_min=20, minutes=5),))
    due = {b.key: b.due_min for b in boundaries(timeline)}
    assert due["phase:high-level-design"] == 5
    assert due["warning:scale-reliability+5"] == 34 and due["phase:scale-reliability"] == 35
    assert due["end"] == 50
    now = phase_at(timeline, at(21))
    assert now.phase.slug == "deep-dive" and now.minutes_left == pytest.approx(14)


def test_recovery_announces_a_missed_boundary_once_and_drops_its_warning(
    phases: tuple[PhasePlan, ...],
) -> None:
    timeline = Timeline(phases, START)
    made = ["phase:clarify", "warning:high-level-design", "phase:high-level-design"]
    due = due_announcements(timeline, at(19), made)  # down from minute 12 to 19
    assert [a.key for a in due.announce] == ["phase:deep-dive"]
    assert due.dropped == ("warning:deep-dive",)
    (late,) = due.announce
    assert late.late and late.late_by == timedelta(minutes=4)
    again = due_announcements(timeline, at(19.5), [*made, "phase:deep-dive", *due.dropped])
    assert again.announce == () and again.next_due_at == at(29)


def test_a_warning_whose_boundary_is_ahead_still_comes(phases: tuple[PhasePlan, ...]) -> None:
    timeline = Timeline(phases, START)
    made = ["phase:clarify", "warning:high-level-design", "phase:high-level-design"]
    due = due_announcements(timeline, at(14.5), made)
    assert [a.key for a in due.announce] == ["warning:deep-dive"]
    assert not due.announce[0].late


def test_phase_at_reports_time_left(phases: tuple[PhasePlan, ...]) -> None:
    now = phase_at(Timeline(phases, START), at(17))
    assert now.phase.slug == "deep-dive"
    assert now.minutes_left == pytest.approx(13) and now.total_left == pytest.approx(28)
    assert phase_at(Timeline(phases, START), at(46)).finished


@pytest.mark.parametrize("minutes", [0, -5, 999])
def test_extension_out_of_range_is_explained(minutes: int) -> None:
    assert extension_problem(minutes) is not None


def test_kinds_cover_the_plan(phases: tuple[PhasePlan, ...]) -> None:
    kinds = [b.kind for b in boundaries(Timeline(phases, START))]
    assert kinds.count(AnnouncementKind.PHASE) == 5 and kinds.count(AnnouncementKind.END) == 1
    assert extension_problem(5) is None


def test_an_extension_after_the_warning_warns_again_for_the_new_deadline(
    phases: tuple[PhasePlan, ...],
) -> None:
    made: list[str] = []
    plain = Timeline(phases, START)
    for minute in (0, 4, 5, 14):
        due = due_announcements(plain, at(minute), made)
        made += [a.key for a in due.announce]
    assert made[-1] == "warning:deep-dive"
    # At 14.5 the interviewer extends the high-level design by 5: deep dive now starts at 20.
    extended = Timeline(phases, START, extensions=(Extension(at_min=14.5, minutes=5),))
    assert due_announcements(extended, at(15), made).announce == ()  # the old boundary is gone
    sent = []
    minute = 15.0
    while minute <= 21:
        due = due_announcements(extended, at(minute), made)
        made += [a.key for a in due.announce] + list(due.dropped)
        sent += [(a.key, minute) for a in due.announce]
        minute += 0.25
    assert sent == [("warning:deep-dive+5", 19), ("phase:deep-dive", 20)]


def test_an_extension_before_the_warning_warns_once(phases: tuple[PhasePlan, ...]) -> None:
    timeline = Timeline(phases, START, extensions=(Extension(at_min=10, minutes=5),))
    keys = [k for k, _ in run_through(timeline, 60)]
    assert keys.count("phase:deep-dive") == 1
    assert [k for k in keys if "deep-dive" in k and k.startswith("warning")] == [
        "warning:deep-dive+5"
    ]
    assert len(keys) == len(set(keys)) == 11
