"""The pacing of a mock interview: which announcements are due, from the guide's phases.

A mock's clock is the time since `/mock start` minus the time it was paused, plus the minutes
added by `/mock extend` (each extension lengthens the phase in progress when it was made, so
every later boundary moves). The guide says where the phases begin and end; this module never
holds a minute of its own. Everything here is a pure function of (started at, paused spans,
extensions, now, announcements already made).

Announcements: a phase at each phase's start (with its focus and deliverables), a warning one
minute before each later boundary, and the end. A boundary that passed while no bot process was
running is announced once, late, saying how long ago it was; a warning whose boundary already
passed is dropped; nothing already made is ever made again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

PHASE_SLUGS = ("clarify", "high-level-design", "deep-dive", "scale-reliability", "wrap-up")
WARNING_BEFORE = timedelta(minutes=1)
# An announcement made later than this after its due time says how long ago the boundary was.
LATE_AFTER = timedelta(seconds=30)


class AnnouncementKind(StrEnum):
    """What an announcement tells the room."""

    PHASE = "phase"
    WARNING = "warning"
    END = "end"


class GuidePhase(Protocol):
    """A phase as the guide's data describes it (content.schema.Phase satisfies this)."""

    @property
    def name(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def start_minute(self) -> int: ...

    @property
    def end_minute(self) -> int: ...

    @property
    def focus(self) -> str: ...

    @property
    def deliverables(self) -> list[str]: ...


@dataclass(frozen=True)
class PhasePlan:
    """One phase of the interview, in minutes of interview time."""

    slug: str
    name: str
    start_min: float
    end_min: float
    focus: str
    deliverables: tuple[str, ...]


def phase_slug(name: str) -> str:
    """Return the fixed slug of a guide phase name ("Scale & Reliability" -> scale-reliability)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def plan_phases(phases: Iterable[GuidePhase]) -> tuple[PhasePlan, ...]:
    """Turn the guide's phases into the plan, checking they tile the interview with known slugs."""
    plan = tuple(
        PhasePlan(
            slug=phase_slug(p.name),
            name=p.name,
            start_min=float(p.start_minute),
            end_min=float(p.end_minute),
            focus=p.focus,
            deliverables=tuple(p.deliverables),
        )
        for p in phases
    )
    if not plan:
        raise ValueError("the guide has no phases")
    previous_end = 0.0
    for phase in plan:
        if phase.slug not in PHASE_SLUGS:
            raise ValueError(f"the guide's phase {phase.name!r} is not one of {PHASE_SLUGS}")
        if phase.start_min != previous_end or phase.end_min <= phase.start_min:
            raise ValueError(f"the guide's phase {phase.name!r} does not follow the one before")
        previous_end = phase.end_min
    return plan


@dataclass(frozen=True)
class PausedSpan:
    """A pause, in wall-clock time; `resumed_at` None while the mock is still paused."""

    paused_at: datetime
    resumed_at: datetime | None = None


@dataclass(frozen=True)
class Extension:
    """Minutes added at a moment of interview time (minutes since start, pauses excluded)."""

    at_min: float
    minutes: float


@dataclass(frozen=True)
class Timeline:
    """Everything the schedule of one mock depends on."""

    phases: tuple[PhasePlan, ...]
    started_at: datetime
    paused: tuple[PausedSpan, ...] = ()
    extensions: tuple[Extension, ...] = ()


@dataclass(frozen=True)
class Boundary:
    """One planned announcement: its key (unique in the mock) and when it falls."""

    key: str
    kind: AnnouncementKind
    phase: PhasePlan
    at_min: float  # interview time, pauses excluded, extensions included
    due_at: datetime | None  # wall time; None while a pause holds it back
    due_min: float | None  # minutes since start, pauses included


@dataclass(frozen=True)
class Announcement:
    """An announcement due now: what to say, when it was due and whether it comes late."""

    key: str
    kind: AnnouncementKind
    phase: PhasePlan
    due_at: datetime
    due_min: float
    late_by: timedelta

    @property
    def late(self) -> bool:
        """Tell whether the room should hear how long ago this boundary passed."""
        return self.late_by > LATE_AFTER


def interview_minutes(timeline: Timeline, now: datetime) -> float:
    """Return the interview time at `now`: minutes since start with the pauses taken out."""
    elapsed = now - timeline.started_at
    for span in timeline.paused:
        end = min(span.resumed_at or now, now)
        if end > span.paused_at:
            elapsed -= end - span.paused_at
    return max(0.0, elapsed.total_seconds() / 60)


def _shifted(timeline: Timeline, nominal_min: float) -> float:
    """Return where a boundary planned at `nominal_min` falls once the extensions are added."""
    at = nominal_min
    for ext in sorted(timeline.extensions, key=lambda e: e.at_min):
        if ext.at_min < at:
            at += ext.minutes
    return at


def _wall_time(timeline: Timeline, at_min: float) -> datetime | None:
    """Return the wall time interview minute `at_min` falls at, or None while paused before it."""
    when = timeline.started_at + timedelta(minutes=at_min)
    for span in sorted(timeline.paused, key=lambda s: s.paused_at):
        if span.paused_at < when:
            if span.resumed_at is None:
                return None
            when += span.resumed_at - span.paused_at
    return when


def warning_key(target: str, moved_min: float) -> str:
    """Return the key of the warning before a boundary moved `moved_min` by extensions.

    The key names the effective deadline, so a warning already given for the old deadline does
    not hide the one for the new: each deadline is warned about exactly once.
    """
    if moved_min <= 0:
        return f"warning:{target}"
    return f"warning:{target}+{moved_min:g}"


def warned_boundary(key: str) -> str:
    """Return the key of the boundary a warning key announces ("warning:x+5" -> "phase:x")."""
    target = key.split(":", 1)[1].split("+", 1)[0]
    return "end" if target == "end" else f"phase:{target}"


def boundaries(timeline: Timeline) -> list[Boundary]:
    """Return every planned announcement of the mock, in order."""
    out: list[Boundary] = []

    def add(key: str, kind: AnnouncementKind, phase: PhasePlan, nominal: float) -> None:
        at = _shifted(timeline, nominal)
        due = _wall_time(timeline, at)
        due_min = None if due is None else (due - timeline.started_at).total_seconds() / 60
        out.append(Boundary(key, kind, phase, at, due, due_min))

    warning_min = WARNING_BEFORE.total_seconds() / 60
    for index, phase in enumerate(timeline.phases):
        if index > 0:
            # The warning lands a minute before the boundary, extensions included.
            boundary = _shifted(timeline, phase.start_min)
            warn_at = boundary - warning_min
            due = _wall_time(timeline, warn_at)
            due_min = None if due is None else (due - timeline.started_at).total_seconds() / 60
            out.append(
                Boundary(
                    warning_key(phase.slug, boundary - phase.start_min),
                    AnnouncementKind.WARNING,
                    timeline.phases[index - 1],
                    warn_at,
                    due,
                    due_min,
                )
            )
        add(f"phase:{phase.slug}", AnnouncementKind.PHASE, phase, phase.start_min)
    last = timeline.phases[-1]
    end = _shifted(timeline, last.end_min)
    due = _wall_time(timeline, end - warning_min)
    out.append(
        Boundary(
            warning_key("end", end - last.end_min),
            AnnouncementKind.WARNING,
            last,
            end - warning_min,
            due,
            None if due is None else (due - timeline.started_at).total_seconds() / 60,
        )
    )
    add("end", AnnouncementKind.END, last, last.end_min)
    return out


@dataclass(frozen=True)
class DueAnnouncements:
    """What to announce now, and which warnings to drop for good (their boundary passed)."""

    announce: tuple[Announcement, ...]
    dropped: tuple[str, ...]
    next_due_at: datetime | None  # when the next announcement falls; None when none is left


def due_announcements(
    timeline: Timeline, now: datetime, made: Iterable[str] = ()
) -> DueAnnouncements:
    """Return the announcements due at `now` that were neither made nor dropped before."""
    done = set(made)
    plan = boundaries(timeline)
    passed_boundary = {
        b.key: b
        for b in plan
        if b.kind != AnnouncementKind.WARNING and b.due_at is not None and b.due_at <= now
    }
    announce: list[Announcement] = []
    dropped: list[str] = []
    next_due: datetime | None = None
    for b in plan:
        if b.key in done:
            continue
        if b.due_at is None or b.due_min is None:
            continue
        if b.due_at > now:
            next_due = b.due_at if next_due is None else min(next_due, b.due_at)
            continue
        if b.kind == AnnouncementKind.WARNING:
            if warned_boundary(b.key) in passed_boundary:
                dropped.append(b.key)  # a warning after its boundary would only confuse
                continue
        announce.append(Announcement(b.key, b.kind, b.phase, b.due_at, b.due_min, now - b.due_at))
    return DueAnnouncements(tuple(announce), tuple(dropped), next_due)


@dataclass(frozen=True)
class PhaseNow:
    """Where the mock stands: the phase in progress and the time left in it."""

    phase: PhasePlan
    minutes_in: float
    minutes_left: float
    total_left: float
    finished: bool


def phase_at(timeline: Timeline, now: datetime) -> PhaseNow:
    """Return the phase in progress at `now` and how much of it (and of the mock) is left."""
    minute = interview_minutes(timeline, now)
    phases = timeline.phases
    end = _shifted(timeline, phases[-1].end_min)
    for phase in phases:
        start = _shifted(timeline, phase.start_min)
        stop = _shifted(timeline, phase.end_min)
        if phase is phases[-1]:
            stop = end
        if minute < stop:
            return PhaseNow(phase, minute - start, stop - minute, end - minute, False)
    return PhaseNow(phases[-1], minute - _shifted(timeline, phases[-1].start_min), 0, 0, True)


MAX_EXTENSION_MIN = 15


def extension_problem(minutes: int) -> str | None:
    """Return why `/mock extend` cannot add these minutes, or None when it can."""
    if minutes < 1:
        return "Extend by at least 1 minute, e.g. /mock extend 5."
    if minutes > MAX_EXTENSION_MIN:
        return f"Extend by at most {MAX_EXTENSION_MIN} minutes at a time, e.g. /mock extend 5."
    return None


def describe_ago(late_by: timedelta) -> str:
    """Return "4 minutes ago" style text for a late announcement."""
    minutes = int(late_by.total_seconds() // 60)
    if minutes < 1:
        return "less than a minute ago"
    return f"{minutes} minute{'s' if minutes != 1 else ''} ago"
