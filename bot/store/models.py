"""The tables: everything that must survive a restart lives here."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from bot.store.types import UTCDateTime, utcnow


def _ts(nullable: bool = False, **kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, nullable=nullable, **kw)


class Cohort(SQLModel, table=True):
    """A study group bound to one channel, with its schedule."""

    __tablename__ = "cohort"
    __table_args__ = (UniqueConstraint("platform", "workspace_id", "channel_id"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    platform: str = Field(max_length=16)
    workspace_id: str = Field(max_length=64)
    channel_id: str = Field(max_length=64)
    timezone: str = Field(default="UTC", max_length=64)
    post_time: time = Field(default=time(8, 0))
    start_date: date
    curriculum_length: int = Field(default=133)
    post_weekdays: str = Field(default="0123456", max_length=7)  # Monday=0 ... Sunday=6
    day_shift: int = Field(default=0)  # days added by /cohort skip
    paused: bool = Field(default=False)
    paused_reason: str | None = Field(default=None, sa_type=Text)
    answers_public: bool = Field(default=False)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class Member(SQLModel, table=True):
    """A person in a cohort."""

    __tablename__ = "member"
    __table_args__ = (UniqueConstraint("cohort_id", "platform_user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    platform_user_id: str = Field(max_length=64)
    display_name: str = Field(default="", max_length=100)
    timezone: str | None = Field(default=None, max_length=64)
    is_admin: bool = Field(default=False)
    active: bool = Field(default=True)
    joined_at: datetime = _ts(default_factory=utcnow)


class DayPost(SQLModel, table=True):
    """The claim and record of one day's post to one cohort: UNIQUE (cohort, day)."""

    __tablename__ = "day_post"
    __table_args__ = (UniqueConstraint("cohort_id", "day"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    day: int
    status: str = Field(default="claimed", max_length=16)  # claimed/posted/missed/failed
    scheduled_for: datetime = _ts()
    claimed_by: str = Field(default="", max_length=100)
    claimed_at: datetime = _ts(default_factory=utcnow)
    lease_until: datetime | None = _ts(nullable=True, default=None)
    posted_at: datetime | None = _ts(nullable=True, default=None)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    # part key -> {"message_id", "channel_id", "thread_id"}
    message_ids: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False)
    )


class Answer(SQLModel, table=True):
    """A member's written answer; stored before grading so nothing is lost."""

    __tablename__ = "answer"
    __table_args__ = (
        Index("ix_answer_status", "status"),
        # The dashboard's members active this week: the answers since a day, read from the
        # index alone (with the member) instead of scanning every answer of the cohort.
        Index("ix_answer_cohort_created", "cohort_id", "created_at", "member_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    question_id: str = Field(max_length=32, index=True)
    text: str = Field(sa_type=Text)
    source: str = Field(default="command", max_length=16)  # thread/command/modal/console
    status: str = Field(default="pending", max_length=16)  # pending/graded/ungradable
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)
    reply_to: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(default_factory=utcnow)
    graded_at: datetime | None = _ts(nullable=True, default=None)
    # When the member was told the grade (the command's reply or a DM); None: still to tell.
    told_at: datetime | None = _ts(nullable=True, default=None)


class Grade(SQLModel, table=True):
    """The grade of one answer, point by point."""

    __tablename__ = "grade"

    id: int | None = Field(default=None, primary_key=True)
    answer_id: int = Field(foreign_key="answer.id", unique=True)
    score: float
    grader: str = Field(max_length=32)
    points: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    feedback: str = Field(default="", sa_type=Text)
    notices: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    tokens_used: int = Field(default=0)
    latency_ms: float = Field(default=0.0)
    created_at: datetime = _ts(default_factory=utcnow)


class MockRoom(SQLModel, table=True):
    """A paired mock-interview room and its pacing-timer state."""

    __tablename__ = "mock_room"
    # A member's mocks, either side of the table (the dashboard's member page lists them).
    __table_args__ = (
        Index("ix_mock_room_interviewer", "interviewer_id"),
        Index("ix_mock_room_candidate", "candidate_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    interviewer_id: int | None = Field(default=None, foreign_key="member.id")
    candidate_id: int | None = Field(default=None, foreign_key="member.id")
    status: str = Field(default="waiting", max_length=16)  # waiting/running/paused/finished
    thread_id: str | None = Field(default=None, max_length=64)
    started_at: datetime | None = _ts(nullable=True, default=None)
    paused_at: datetime | None = _ts(nullable=True, default=None)
    paused_total_s: float = Field(default=0.0)
    next_phase: int = Field(default=0)
    next_due_at: datetime | None = _ts(nullable=True, default=None)
    scorecard: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(default_factory=utcnow)
    finished_at: datetime | None = _ts(nullable=True, default=None)
    # status also: matched (waiting for both to confirm), scoring, closed, released
    kind: str = Field(default="system-design", max_length=24)
    round: int = Field(default=1)
    previous_room_id: int | None = Field(default=None)  # the first round, for a swap
    scenario_id: str | None = Field(default=None, max_length=64)
    platform: str = Field(default="console", max_length=16)
    workspace_id: str = Field(default="", max_length=64)
    channel_id: str | None = Field(default=None, max_length=64)  # the private room
    voice_channel_id: str | None = Field(default=None, max_length=64)
    status_message_id: str | None = Field(default=None, max_length=64)
    # [[paused_at ISO, resumed_at ISO or null], ...] and [[at_min, minutes], ...]
    paused_spans: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    extensions: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    confirmed: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    matched_at: datetime | None = _ts(nullable=True, default=None)
    last_activity_at: datetime | None = _ts(nullable=True, default=None)
    last_new_message_at: datetime | None = _ts(nullable=True, default=None)
    booked: bool = Field(default=False)  # matched ahead for a booked slot (reminded at it)


class Submission(SQLModel, table=True):
    """A `/submit` code drill: queued, judged, recorded."""

    __tablename__ = "submission"

    id: int | None = Field(default=None, primary_key=True)
    job_id: str = Field(max_length=64, unique=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id", index=True)
    drill_id: str = Field(max_length=64, index=True)
    source: str = Field(sa_type=Text)
    status: str = Field(default="queued", max_length=16)  # queued/done/failed
    verdict: str | None = Field(default=None, max_length=16)
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(default_factory=utcnow)
    finished_at: datetime | None = _ts(nullable=True, default=None)
    device_kind: str = Field(default="cpu", max_length=64, index=True)
    task_id: str | None = Field(default=None, max_length=128)
    dispatches: int = Field(default=0)  # how many times the job was handed to the runner
    # The bot process that last handed it over: with a process-local runner only that process
    # can see the job, so another reconciler leaves it alone while that process is alive.
    dispatched_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, sa_type=Text)
    # The judge's timing, copied out of `result` so boards rank without parsing JSON.
    time_s: float | None = Field(default=None)
    noise_s: float | None = Field(default=None)
    speedup: float | None = Field(default=None)
    # Whether the member was told the outcome (a result collected while the bot was down).
    notified: bool = Field(default=False)
    # {"platform", "user_id", "channel_id"}: where to tell the member what became of it.
    reply_to: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )


class PointsEvent(SQLModel, table=True):
    """The append-only points ledger: one event per (member, reason, ref), whoever writes it."""

    __tablename__ = "points_event"
    __table_args__ = (
        UniqueConstraint("member_id", "reason", "ref", name="uq_points_event_member_reason_ref"),
        Index("ix_points_event_cohort_created", "cohort_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(max_length=16)  # answer/mock/drill/correction
    ref: str = Field(max_length=100)
    points: int
    local_day: date
    created_at: datetime = _ts(default_factory=utcnow)
    reason: str = Field(default="", max_length=24)  # bot.domain.scoring.Reason


class ThreadLink(SQLModel, table=True):
    """Which question a posted thread asks, so a reply in it is an answer to that question."""

    __tablename__ = "thread_link"
    __table_args__ = (UniqueConstraint("platform", "channel_id", "thread_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    channel_id: str = Field(max_length=64)
    thread_id: str = Field(max_length=64)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    day: int
    question_id: str = Field(max_length=32)
    created_at: datetime = _ts(default_factory=utcnow)


class DraftedRubric(SQLModel, table=True):
    """Rubric points an LLM drafted for a question that had none; admins accept or edit them."""

    __tablename__ = "drafted_rubric"

    question_id: str = Field(primary_key=True, max_length=32)
    points: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    status: str = Field(default="drafted", max_length=16)  # drafted/accepted/edited
    model: str = Field(default="", max_length=100)
    created_at: datetime = _ts(default_factory=utcnow)
    reviewed_by: str | None = Field(default=None, max_length=64)


class Delivery(SQLModel, table=True):
    """A request a chat platform delivered, kept a while so a retry or a repeat does nothing."""

    __tablename__ = "delivery"

    platform: str = Field(primary_key=True, max_length=16)
    delivery_id: str = Field(primary_key=True, max_length=255)
    received_at: datetime = _ts(index=True)


class WorkClaim(SQLModel, table=True):
    """A fenced claim on one piece of once-only work (a day's post, a recap, a mock timer).

    `key` names the work; `holder` is the bot process doing it; `epoch` grows by one at every
    acquisition after the first, so a process whose claim was taken over can neither send nor
    record; `lease_until` is renewed from now while the work goes on.
    """

    __tablename__ = "work_claim"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    holder: str = Field(max_length=100)
    epoch: int = Field(default=1)
    status: str = Field(default="held", max_length=16)  # held/released/finished
    lease_until: datetime | None = _ts(nullable=True, default=None)
    claimed_at: datetime = _ts(default_factory=utcnow)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, sa_type=Text)


class BotProcess(SQLModel, table=True):
    """A running (or once running) bot process and its last heartbeat."""

    __tablename__ = "bot_process"

    id: str = Field(primary_key=True, max_length=100)
    host: str = Field(default="", max_length=100)
    pid: int = Field(default=0)
    started_at: datetime = _ts(default_factory=utcnow)
    heartbeat_at: datetime = _ts(default_factory=utcnow, index=True)
    stopped_at: datetime | None = _ts(nullable=True, default=None)


class MockQueueEntry(SQLModel, table=True):
    """A member waiting for a mock partner (now, or for a booked slot)."""

    __tablename__ = "mock_queue_entry"
    __table_args__ = (UniqueConstraint("cohort_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    member_id: int = Field(foreign_key="member.id", index=True)
    kind: str = Field(default="system-design", max_length=24)
    queued_at: datetime = _ts(default_factory=utcnow)
    front: bool = Field(default=False)
    slot_at: datetime | None = _ts(nullable=True, default=None)
    reply_to: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class MockAnnouncement(SQLModel, table=True):
    """An announcement of a mock's timer, made (or dropped) once: UNIQUE (room, key)."""

    __tablename__ = "mock_announcement"
    __table_args__ = (UniqueConstraint("room_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="mock_room.id", index=True)
    key: str = Field(max_length=48)
    kind: str = Field(max_length=16)  # phase/warning/end
    phase: str = Field(max_length=32)
    status: str = Field(default="sent", max_length=16)  # sent/dropped
    due_at: datetime = _ts()
    sent_at: datetime = _ts(default_factory=utcnow)
    holder: str = Field(default="", max_length=100)
    epoch: int = Field(default=0)


class GradeReview(SQLModel, table=True):
    """A rubric point the LLM grader found and the claim checks did not, awaiting an admin.

    The grade scores the lower verdict; accepting the LLM's verdict appends a correction to the
    points ledger, rejecting it keeps the score. Neither edits the grade.
    """

    __tablename__ = "grade_review"
    __table_args__ = (UniqueConstraint("answer_id", "point_index"),)

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int | None = Field(default=None, foreign_key="cohort.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="member.id")
    answer_id: int = Field(foreign_key="answer.id", index=True)
    question_id: str = Field(max_length=32)
    point_index: int
    rubric: str = Field(sa_type=Text)
    evidence: str = Field(default="", sa_type=Text)
    claimed: str = Field(max_length=16)  # the LLM's verdict
    scored: str = Field(max_length=16)  # the verdict the grade counts until resolved
    status: str = Field(default="open", max_length=16)  # open/accepted/rejected
    points_delta: int = Field(default=0)
    resolved_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
    resolved_at: datetime | None = _ts(nullable=True, default=None)


# --- standings: per-member rollups of the points ledger, streaks, the review deck ---------------


class MemberDay(SQLModel, table=True):
    """What a member did on one local day (in their zone at the time): the ledger, rolled up.

    Written in the same unit of work as each ledger event; leaderboards and streaks read it.
    """

    __tablename__ = "member_day"
    # With the member: who was active since a day is read from the index alone.
    __table_args__ = (Index("ix_member_day_cohort_day_member", "cohort_id", "day", "member_id"),)

    member_id: int = Field(foreign_key="member.id", primary_key=True)
    day: date = Field(primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id")
    tz: str = Field(max_length=64)  # the zone the day was counted in (travel keeps the first)
    points: int = Field(default=0)
    answers: int = Field(default=0)
    mocks: int = Field(default=0)
    drills: int = Field(default=0)
    first_at: datetime = _ts()
    last_at: datetime = _ts()


class MemberStanding(SQLModel, table=True):
    """A member's running totals and streak, kept beside the ledger for fast boards."""

    __tablename__ = "member_standing"
    __table_args__ = (Index("ix_member_standing_cohort_points", "cohort_id", "points"),)

    member_id: int = Field(foreign_key="member.id", primary_key=True)
    cohort_id: int = Field(foreign_key="cohort.id")
    points: int = Field(default=0)
    mocks: int = Field(default=0)
    drills: int = Field(default=0)
    last_at: datetime | None = _ts(nullable=True, default=None)
    streak: int = Field(default=0)  # the run as of streak_day
    longest: int = Field(default=0)
    freezes: int = Field(default=0)
    streak_day: date | None = Field(default=None)
    streak_tz: str | None = Field(default=None, max_length=64)
    streak_at: datetime | None = _ts(nullable=True, default=None)  # when the run reached its length
    remind_hour: int | None = Field(default=None)  # opt-in local hour for a streak reminder
    reminded_on: date | None = Field(default=None)


class ReviewCard(SQLModel, table=True):
    """A question in a member's spaced-review deck, scheduled by FSRS."""

    __tablename__ = "review_card"
    __table_args__ = (
        UniqueConstraint("member_id", "question_id"),
        Index("ix_review_card_member_due", "member_id", "due"),
        Index("ix_review_card_cohort_due", "cohort_id", "due"),  # the daily post's count
    )

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="member.id")
    cohort_id: int = Field(foreign_key="cohort.id")
    question_id: str = Field(max_length=32)
    card: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    due: datetime = _ts()
    last_rating: int | None = Field(default=None)
    reviews: int = Field(default=0)
    updated_at: datetime = _ts(default_factory=utcnow)


# --- Imported drill problems (GPU MODE style folders) ------------------------------------------


class DrillFile(SQLModel, table=True):
    """One file of an imported problem, stored once by the SHA-256 of its text."""

    __tablename__ = "drill_file"

    sha256: str = Field(primary_key=True, max_length=64)
    content: str = Field(sa_type=Text)
    size: int
    created_at: datetime = _ts(default_factory=utcnow)


class ImportedDrill(SQLModel, table=True):
    """A problem imported as a drill: its spec, and its files by content hash.

    `files` maps each module name to the hash of its `DrillFile`; `spec` holds the title,
    description, tests, benchmarks and the template's hash.
    """

    __tablename__ = "imported_drill"

    id: int | None = Field(default=None, primary_key=True)
    drill_id: str = Field(max_length=64, unique=True, index=True)
    title: str = Field(max_length=200)
    device_kind: str = Field(max_length=64)
    files: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    spec: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    imported_by: str = Field(default="", max_length=100)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


# --- Mock rooms: per-cohort room settings and solo-mock transcripts -------------------------


class MockCohortSetting(SQLModel, table=True):
    """How a cohort's mock rooms are opened (a private thread, a private channel, a group DM)."""

    __tablename__ = "mock_cohort_setting"

    cohort_id: int = Field(foreign_key="cohort.id", primary_key=True)
    room_style: str = Field(default="thread", max_length=16)  # thread/channel/group-dm
    updated_at: datetime = _ts(default_factory=utcnow)


class MockTurn(SQLModel, table=True):
    """One line of a solo mock's conversation, said once: UNIQUE (room, key)."""

    __tablename__ = "mock_turn"
    __table_args__ = (UniqueConstraint("room_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    room_id: int = Field(foreign_key="mock_room.id", index=True)
    key: str = Field(max_length=48)  # c:<n> candidate, r:<n> reply, p:<phase>, fallback
    speaker: str = Field(max_length=16)  # interviewer/candidate
    phase: str = Field(max_length=32)
    minute: float = Field(default=0.0)  # interview minutes since /mock start, pauses excluded
    text: str = Field(sa_type=Text)
    intent: str = Field(default="", max_length=32)  # what the interviewer did (the engines' tag)
    engine: str = Field(default="", max_length=16)  # scripted/llm ("" for the candidate)
    tokens: int = Field(default=0)
    note: str = Field(default="", sa_type=Text)  # why an LLM reply was replaced, if it was
    created_at: datetime = _ts(default_factory=utcnow)


# --- Web dashboard: single-use sign-in links, the generated signing secret, public boards -----


class DashboardLink(SQLModel, table=True):
    """A `/dashboard` sign-in link: signed, short-lived, and opened at most once (`used_at`)."""

    __tablename__ = "dashboard_link"

    id: str = Field(primary_key=True, max_length=32)  # a random nonce, signed into the link
    cohort_id: int = Field(foreign_key="cohort.id", index=True)
    member_id: int = Field(foreign_key="member.id")
    admin: bool = Field(default=False)  # a workspace admin asked (cohort admins are read live)
    created_at: datetime = _ts(default_factory=utcnow)
    expires_at: datetime = _ts()
    used_at: datetime | None = _ts(nullable=True, default=None)


class WebSecret(SQLModel, table=True):
    """A secret the dashboard generated once, so every process signs and checks alike."""

    __tablename__ = "web_secret"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
    created_at: datetime = _ts(default_factory=utcnow)


class CohortWeb(SQLModel, table=True):
    """A cohort's dashboard choices: whether its leaderboard is a public page."""

    __tablename__ = "cohort_web"

    cohort_id: int = Field(primary_key=True, foreign_key="cohort.id")
    leaderboard_public: bool = Field(default=False)
    updated_at: datetime = _ts(default_factory=utcnow)


# The dashboard's week chart and period leaderboards read one cohort's ledger by day.
Index(
    "ix_points_event_cohort_day",
    PointsEvent.__table__.c.cohort_id,  # type: ignore[attr-defined]
    PointsEvent.__table__.c.local_day,  # type: ignore[attr-defined]
)


# --- operations: the admin audit trail ---------------------------------------------------------


class AdminAction(SQLModel, table=True):
    """One admin action (re-post, re-grade, export, erase), written before it takes effect.

    No foreign keys: the trail outlives what it names (an erased member, a deleted cohort).
    """

    __tablename__ = "admin_action"

    id: int | None = Field(default=None, primary_key=True)
    cohort_id: int | None = Field(default=None, index=True)
    platform: str = Field(max_length=16)
    actor_user_id: str = Field(max_length=64)
    action: str = Field(max_length=32)
    target: str = Field(default="", max_length=128)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = _ts(default_factory=utcnow)
