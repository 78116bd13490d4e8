"""Paired mock interviews: queue, match, private room, the guide's 45-minute pacing, scorecard.

Each step is one short transaction; platform calls (opening a room, posting, editing) happen
between transactions, never inside one. The timer state lives in `mock_room` and every
announcement made lives in `mock_announcement`, so any bot process re-arms every open room at
start; each announcement is claimed with the fenced work claim, so two processes never make the
same one twice, and one whose claim was taken over records nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.claims import ClaimLost, ClaimPolicy, ClaimToken, FenceTooSlow
from bot.domain.matching import (
    MockKind,
    ReleaseReason,
    Waiting,
    match_queue,
    parse_kind,
    pick_scenario,
    queue_position,
    requeue_after_release,
)
from bot.domain.pacing import (
    Announcement,
    AnnouncementKind,
    DueAnnouncements,
    Extension,
    PausedSpan,
    PhasePlan,
    Timeline,
    boundaries,
    describe_ago,
    due_announcements,
    extension_problem,
    interview_minutes,
    phase_at,
    plan_phases,
)
from bot.domain.scorecards import SCALE, SCALE_LABELS, check_scorecard, summary
from bot.domain.scoring import mock_awards
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.messages import (
    Channel,
    Message,
    MessageField,
    Publisher,
    PublishError,
    SentMessage,
    keep_first_copy,
)
from bot.services.context import Actor
from bot.store import claims as claims_repo
from bot.store import cohorts as cohort_repo
from bot.store import mocks as repo
from bot.store import points as points_store
from bot.store.models import Cohort, Member, MockAnnouncement, MockQueueEntry, MockRoom

if TYPE_CHECKING:
    from content import Library

log = logging.getLogger(__name__)

GUIDE_SCENARIO = "guide:ml-serving"


# --- ports ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomRequest:
    """What a face needs to open a private room for a pair."""

    platform: str
    workspace_id: str
    cohort_channel_id: str
    title: str
    user_ids: tuple[str, ...]
    style: str | None = None  # the cohort's choice (ROOM_STYLES); None: the face's default


@dataclass(frozen=True)
class OpenedRoom:
    """A private room a face opened: where to post, and the voice channel if there is one."""

    channel_id: str
    voice_channel_id: str | None = None
    archive: bool = True  # False for a room the platform cannot archive (a Slack group DM)


# How each face may open a cohort's rooms; the first is its default.
ROOM_STYLES: dict[str, tuple[str, ...]] = {
    "discord": ("thread", "channel"),
    "slack": ("channel", "group-dm"),
}


class RoomHost(Protocol):
    """The port a face implements to open and close private mock rooms."""

    async def open_room(self, request: RoomRequest) -> OpenedRoom:
        """Open a private room (thread, channel or group DM) with the pair, plus voice if any."""
        ...

    async def close_room(self, room: OpenedRoom) -> None:
        """Remove what only lived for the room (the temporary voice channel)."""
        ...


# --- scenarios and briefs -------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """A design problem a pair practises; only the guide's own has the full brief."""

    id: str
    title: str
    text: str
    rubric: tuple[str, ...] = ()
    full_brief: bool = False


def scenarios_from(library: Library) -> list[Scenario]:
    """Return the scenarios: the guide's ML serving design, E.11 questions, day design prompts."""
    guide = library.guide
    out = [
        Scenario(
            GUIDE_SCENARIO,
            "Design an ML model serving platform",
            "Design a platform that serves ML models (LLMs, vision, tabular) to production "
            "traffic: " + "; ".join(f"{p.name} ({p.detail})" for p in guide.design_key_points),
            full_brief=True,
        )
    ]
    for q in library.questions.values():
        if q.section == 11:
            out.append(Scenario(q.id, q.text, q.text, tuple(q.rubric)))
    for plan in library.authored.values():
        for track in plan.tracks:
            if "design" not in f"{track.category or ''} {track.name}".lower():
                continue
            for item in track.items:
                for dq in item.questions:
                    rubric = tuple(library.rubric_for(dq.bank_id)) if dq.bank_id else ()
                    out.append(Scenario(dq.id, dq.text, dq.text, rubric))
    return out


def _generic_trap(question: str) -> bool:
    lowered = question.lower()
    return not any(word in lowered for word in ("microservice", "gpu", "serv"))


def compose_brief(library: Library, scenario: Scenario) -> Message:
    """Return the interviewer's private brief for a scenario, all from the guide."""
    guide = library.guide
    fields: list[MessageField] = [
        MessageField("Scenario", scenario.text),
        MessageField(
            "Phases",
            "\n".join(
                f"{p.start_minute}–{p.end_minute} min {p.name}: {p.focus} "
                f"({', '.join(p.deliverables)})"
                for p in guide.phases
            ),
        ),
    ]
    if scenario.full_brief:
        fields.append(
            MessageField(
                "Clarifying questions",
                "\n".join(
                    f"• {c.question} Why: {c.why}. Expect: {c.expected_answers}"
                    for c in guide.clarifying_questions
                ),
            )
        )
        for option in guide.deep_dive_options:
            fields.append(
                MessageField(
                    f"Deep dive {option.letter}: {option.title}",
                    "\n".join(f"• {p}" for p in option.key_points),
                )
            )
        traps = guide.trap_questions
        fields.append(
            MessageField(
                "Key numbers",
                "\n".join(f"• {k.metric}: {k.value} ({k.context})" for k in guide.key_numbers),
            )
        )
    else:
        if scenario.rubric:
            fields.append(
                MessageField("Rubric points", "\n".join(f"• {p}" for p in scenario.rubric))
            )
        fields.append(
            MessageField(
                "Clarifying questions (from the guide: apply to any ML system design)",
                "\n".join(f"• {c.question} Why: {c.why}." for c in guide.clarifying_questions),
            )
        )
        traps = [t for t in guide.trap_questions if _generic_trap(t.question)]
    label = "Trap questions" if scenario.full_brief else "Trap questions (from the guide)"
    fields.append(
        MessageField(
            label,
            "\n".join(
                f"• {t.question}\n  Bad: {t.bad_answer}\n  Good: {t.good_answer}" for t in traps
            ),
        )
    )
    suffix = "" if scenario.full_brief else " (from the guide)"
    fields.append(MessageField("Red flags" + suffix, "\n".join(f"• {f}" for f in guide.red_flags)))
    fields.append(
        MessageField("Green flags" + suffix, "\n".join(f"• {f}" for f in guide.green_flags))
    )
    note = (
        "The full brief of the guide's own scenario."
        if scenario.full_brief
        else "This scenario has no brief of its own: its text and rubric points, plus the "
        "guide's parts that apply to any ML system design, marked as such."
    )
    return Message(header=f"Interviewer brief: {scenario.title}", text=note, fields=tuple(fields))


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomView:
    """A room as its members see it."""

    room_id: int
    status: str
    kind: str
    round: int
    interviewer: str
    candidate: str
    scenario: str
    phase: str | None = None
    phase_left_min: float | None = None
    total_left_min: float | None = None


@dataclass(frozen=True)
class QueueView:
    """Where a member stands: waiting (with their place), in a room, or neither."""

    position: int | None = None
    waited_min: float | None = None
    kind: str | None = None
    slot: str | None = None
    room: RoomView | None = None
    long_wait: bool = False


@dataclass(frozen=True)
class HistoryEntry:
    """One past mock of a member."""

    room_id: int
    when: datetime
    partner: str
    role: str
    scenario: str
    scorecard: str


@dataclass
class TimerReport:
    """What one pass of the timer did (for tests, the demo and the bench)."""

    sent: list[tuple[int, str, datetime]] = field(default_factory=list)
    dropped: list[tuple[int, str]] = field(default_factory=list)
    lost: int = 0


@dataclass
class ClaimedRoom:
    """A running room whose due announcements this process claimed, on their way out."""

    room: MockRoom
    made: set[str]  # the keys announced (or dropped) before this pass
    dropped: tuple[str, ...]  # the warnings this pass dropped
    tokens: list[tuple[Announcement, ClaimToken]]
    claimed_at: datetime
    sent_at: datetime | None = None  # set once said
    new_message: bool = False
    solo_lines: list[tuple[Announcement, str]] = field(default_factory=list)


@dataclass
class ClaimedPass:
    """What one look at the clock claimed, and when the next look is due."""

    rooms: list[ClaimedRoom]
    next_due_at: datetime | None  # the next announcement of any other running room


# --- the service ----------------------------------------------------------------------------


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def announcement_post_key(room_id: int, carried: Sequence[Announcement]) -> str:
    """Return the idempotency key of a room's post carrying these announcements (in order).

    The key names the first and the last boundary the post announces (one boundary: just
    its own key), never a warning: a warning riding along may be dropped by a later holder
    whose boundary passed, while a boundary stays due until it is recorded. So a holder that
    takes the claims over holds every boundary of an unrecorded post and can name the post
    whatever grouping its sender used (`MockService._posted_before`).
    """
    boundaries = [a.key for a in carried if a.kind != AnnouncementKind.WARNING]
    if not boundaries:
        raise ValueError("a room's post carries at least one boundary")
    first, last = boundaries[0], boundaries[-1]
    return f"mock:{room_id}:{first}" if first == last else f"mock:{room_id}:{first}..{last}"


def timeline_of(room: MockRoom, phases: tuple[PhasePlan, ...]) -> Timeline:
    """Return a room's pacing timeline from its stored state."""
    assert room.started_at is not None
    return Timeline(
        phases=phases,
        started_at=room.started_at,
        paused=tuple(
            PausedSpan(_when(a) or room.started_at, _when(b)) for a, b in room.paused_spans
        ),
        extensions=tuple(Extension(float(a), float(m)) for a, m in room.extensions),
    )


class MockService:
    """Mock interview use cases over the store, the publishers and the room hosts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        library: Library,
        clock: Clock,
        publishers: Mapping[str, Publisher],
        *,
        holder: str,
        policy: ClaimPolicy | None = None,
        no_show: timedelta = timedelta(minutes=10),
        idle_close: timedelta = timedelta(hours=2),
        queue_wait: timedelta = timedelta(minutes=15),
    ) -> None:
        self._sessions = sessions
        self._library = library
        self._clock = clock
        self._publishers = publishers
        self._hosts: dict[str, RoomHost] = {}
        self.holder = holder
        self.policy = policy or ClaimPolicy()
        self.no_show = no_show
        self.idle_close = idle_close
        self.queue_wait = queue_wait
        self.phases = plan_phases(library.guide.phases)
        self.changed = asyncio.Event()  # set when a local command moved a timer
        self.solo: Any = None  # the solo mocks (bot.services.solo_mocks), once built
        # Rooms said at once: saying holds no database connection, so this bounds the calls
        # in flight to the platform, not the pool.
        self.rooms_in_flight = 16
        self.rooms_per_pass = 500  # due rooms one look at the clock claims

    @property
    def library(self) -> Library:
        """Return the curriculum the scenarios and briefs come from."""
        return self._library

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        """Return the session factory (solo mocks share the rooms' unit of work)."""
        return self._sessions

    @property
    def clock(self) -> Clock:
        """Return the clock the timer and the commands read."""
        return self._clock

    @property
    def publishers(self) -> Mapping[str, Publisher]:
        """Return the faces' publishers by platform."""
        return self._publishers

    async def cohort_member(self, session: AsyncSession, actor: Actor) -> tuple[Cohort, Member]:
        """Return the actor's cohort and membership, or explain why not."""
        return await self._cohort_member(session, actor)

    async def my_room(self, session: AsyncSession, actor: Actor) -> tuple[MockRoom, Member, str]:
        """Return the room this command was typed in, the member and their role."""
        return await self._my_room(session, actor)

    async def view(self, session: AsyncSession, room: MockRoom, now: datetime) -> RoomView:
        """Return a room as its members see it."""
        return await self._view(session, room, now)

    async def open_platform_room(self, room_id: int) -> None:
        """Open a room's private room on its face (and introduce a pair)."""
        await self._open(room_id)

    async def close_platform_room(self, room: MockRoom) -> None:
        """Close what only lived for a room on its face."""
        await self._close_platform_room(room)

    def add_room_host(self, platform: str, host: RoomHost) -> None:
        """Register a face's room host (private rooms on its platform)."""
        self._hosts[platform] = host

    # --- who is asking ---------------------------------------------------------------------

    async def _cohort_member(self, session: AsyncSession, actor: Actor) -> tuple[Cohort, Member]:
        room = await self._room_here(session, actor)
        if room is not None:
            cohort = await cohort_repo.get_cohort(session, cohort_id=room.cohort_id)
        else:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
        if cohort is None or cohort.id is None:
            raise NotFound(
                "This channel has no study cohort; use the mock commands in a cohort's channel."
            )
        member = await cohort_repo.get_member(
            session, cohort_id=cohort.id, platform_user_id=actor.user_id
        )
        if member is None or not member.active:
            raise NotAllowed("Only cohort members can practise mocks here; join with /cohort join.")
        return cohort, member

    async def _room_here(self, session: AsyncSession, actor: Actor) -> MockRoom | None:
        channels = [c for c in (actor.thread_id, actor.channel_id) if c]
        return await repo.room_in_channel(
            session, platform=actor.platform, workspace_id=actor.workspace_id, channel_ids=channels
        )

    async def _my_room(
        self, session: AsyncSession, actor: Actor, room_id: int | None = None
    ) -> tuple[MockRoom, Member, str]:
        """Return the room this command was typed in (or names), the member and their role."""
        if room_id is not None:
            room = await repo.get_room(session, room_id=room_id)
            if room is not None and (room.platform, room.workspace_id) != (
                actor.platform,
                actor.workspace_id,
            ):
                room = None
        else:
            room = await self._room_here(session, actor)
        if room is None:
            raise NotFound("This is not a mock room; run this command in your mock's private room.")
        member = await cohort_repo.get_member(
            session, cohort_id=room.cohort_id, platform_user_id=actor.user_id
        )
        if member is None or member.id not in (room.interviewer_id, room.candidate_id):
            raise NotAllowed("Only the two members of this mock can run it.")
        role = "interviewer" if member.id == room.interviewer_id else "candidate"
        return room, member, role

    # --- cohort settings -------------------------------------------------------------------

    async def set_room_style(self, actor: Actor, style_text: str) -> str:
        """Choose how this cohort's mock rooms open (admins): thread, channel or group DM."""
        styles = ROOM_STYLES.get(actor.platform, ())
        style = style_text.strip().lower().replace(" ", "-")
        async with self._sessions.begin() as session:
            cohort, member = await self._cohort_member(session, actor)
            assert cohort.id is not None
            if not (actor.is_workspace_admin or member.is_admin):
                raise NotAllowed("Only the cohort's admins choose how mock rooms open.")
            if style not in styles:
                raise InvalidInput(
                    f"Mock rooms on {actor.platform} open as one of: "
                    f"{', '.join(styles) or 'nothing else'} (got {style_text!r})."
                )
            await repo.set_room_style(
                session, cohort_id=cohort.id, style=style, now=self._clock.now()
            )
        return f"New mock rooms in this cohort open as a private {style.replace('-', ' ')}."

    # --- queue -----------------------------------------------------------------------------

    async def join(self, actor: Actor, kind_text: str | None = None) -> QueueView:
        """Queue the member for a mock and pair them when a partner waits."""
        kind = parse_kind(kind_text)
        if kind is None:
            raise InvalidInput(
                f"Unknown mock kind {kind_text!r}: use system-design, behavioral or coding."
            )
        return await self._enqueue(actor, kind, slot=None)

    async def book(self, actor: Actor, when_text: str, kind_text: str | None = None) -> QueueView:
        """Book a mock at a later time (in the member's zone) and pair those booked for it."""
        kind = parse_kind(kind_text)
        if kind is None:
            raise InvalidInput(
                f"Unknown mock kind {kind_text!r}: use system-design, behavioral or coding."
            )
        async with self._sessions() as session:
            cohort, member = await self._cohort_member(session, actor)
        zone = ZoneInfo(member.timezone or cohort.timezone or "UTC")
        try:
            local = datetime.strptime(when_text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
        except ValueError:
            raise InvalidInput(
                f"Book a time as YYYY-MM-DD HH:MM in your time zone ({zone.key}), "
                f"e.g. /mock book 2026-12-05 18:00; got {when_text!r}."
            ) from None
        slot = local.astimezone(ZoneInfo("UTC"))
        if slot <= self._clock.now():
            raise InvalidInput("Book a time in the future; /mock join pairs you now.")
        return await self._enqueue(actor, kind, slot=slot)

    async def _enqueue(self, actor: Actor, kind: MockKind, *, slot: datetime | None) -> QueueView:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort, member = await self._cohort_member(session, actor)
            assert cohort.id is not None and member.id is not None
            if await repo.open_room_of_member(session, member_id=member.id) is not None:
                raise Conflict("You are in a mock room already; finish it with /mock end first.")
            if await repo.queue_entry(session, cohort_id=cohort.id, member_id=member.id):
                raise Conflict("You are queued already; /mock status shows your place.")
            await repo.add_queue_entry(
                session,
                entry=MockQueueEntry(
                    cohort_id=cohort.id,
                    member_id=member.id,
                    kind=kind.value,
                    queued_at=now,
                    slot_at=slot,
                ),
            )
            rooms = await self._match(session, cohort, now)
        for room_id in rooms:
            await self._open(room_id)
        return await self.status_of(actor)

    async def _match(self, session: AsyncSession, cohort: Cohort, now: datetime) -> list[int]:
        """Pair who can be paired in this cohort and create their rooms (inside the step)."""
        assert cohort.id is not None
        entries = await repo.waiting_in_cohort(session, cohort_id=cohort.id)
        busy = await repo.members_in_open_rooms(session, cohort_id=cohort.id)
        ids = [e.member_id for e in entries]
        past = await repo.past_rooms(session, member_ids=ids, limit=50 * max(1, len(ids)))
        history: dict[int, list[int]] = {}
        interviewed: dict[int, int] = {}
        seen: dict[int, list[str]] = {}
        for r in past:
            for me, other in (
                (r.interviewer_id, r.candidate_id),
                (r.candidate_id, r.interviewer_id),
            ):
                if me is not None and other is not None:
                    history.setdefault(me, []).append(other)
                    if r.scenario_id:
                        seen.setdefault(me, []).append(r.scenario_id)
            if r.interviewer_id is not None:
                interviewed[r.interviewer_id] = interviewed.get(r.interviewer_id, 0) + 1
        waiting = [
            Waiting(e.member_id, e.cohort_id, e.kind, e.queued_at, e.front, e.slot_at)
            for e in entries
        ]
        by_member = {e.member_id: e for e in entries}
        scenario_ids = [s.id for s in self.scenarios]
        created: list[int] = []
        for pair in match_queue(waiting, history=history, in_room=busy, interviewed=interviewed):
            a, b = pair.interviewer.member_id, pair.candidate.member_id
            gone = await repo.remove_queue_entries(
                session, entry_ids=[by_member[a].id or 0, by_member[b].id or 0]
            )
            if gone != 2:  # another process paired one of them first: leave it to that one
                raise Conflict("The queue changed while pairing; run /mock status.")
            scenario = (
                pick_scenario(scenario_ids, seen_by_a=seen.get(a, ()), seen_by_b=seen.get(b, ()))
                if pair.interviewer.kind == MockKind.SYSTEM_DESIGN
                else None
            )
            room = await repo.add_room(
                session,
                room=MockRoom(
                    cohort_id=cohort.id,
                    interviewer_id=a,
                    candidate_id=b,
                    status="matched",
                    kind=pair.interviewer.kind,
                    scenario_id=scenario,
                    platform=cohort.platform,
                    workspace_id=cohort.workspace_id,
                    matched_at=pair.interviewer.slot or now,
                    booked=pair.interviewer.slot is not None and pair.interviewer.slot > now,
                    last_activity_at=now,
                ),
            )
            assert room.id is not None
            created.append(room.id)
        return created

    @property
    def scenarios(self) -> list[Scenario]:
        """Return every scenario a pair may get (built once)."""
        cached: list[Scenario] | None = getattr(self, "_scenarios", None)
        if cached is None:
            cached = scenarios_from(self._library)
            self._scenarios = cached
        return cached

    def scenario(self, scenario_id: str | None) -> Scenario | None:
        """Return a scenario by id."""
        return next((s for s in self.scenarios if s.id == scenario_id), None)

    async def _open(self, room_id: int) -> None:
        """Open the platform room for a new pair, then post the scenario and DM the brief."""
        async with self._sessions() as session:
            room = await repo.get_room(session, room_id=room_id)
            assert room is not None
            cohort = await cohort_repo.get_cohort(session, cohort_id=room.cohort_id)
            interviewer = (
                None
                if room.interviewer_id is None
                else await session.get(Member, room.interviewer_id)
            )
            candidate = await session.get(Member, room.candidate_id)
            style = await repo.room_style(session, cohort_id=room.cohort_id)
        assert cohort is not None and candidate is not None
        host = self._hosts.get(room.platform)
        people = [m for m in (interviewer, candidate) if m is not None]
        if host is None:
            opened = OpenedRoom(channel_id=f"mock-{room_id}")
        else:
            opened = await host.open_room(
                RoomRequest(
                    platform=room.platform,
                    workspace_id=room.workspace_id,
                    cohort_channel_id=cohort.channel_id,
                    title="-".join(["mock", str(room_id), *(m.display_name for m in people)]),
                    user_ids=tuple(m.platform_user_id for m in people),
                    style=style,
                )
            )
        async with self._sessions.begin() as session:
            await repo.update_room(
                session,
                room_id=room_id,
                channel_id=opened.channel_id,
                voice_channel_id=opened.voice_channel_id,
            )
        room.channel_id, room.voice_channel_id = opened.channel_id, opened.voice_channel_id
        if interviewer is not None:  # a solo mock's interviewer introduces itself
            await self._post_intro(room, interviewer, candidate)

    async def _post_intro(self, room: MockRoom, interviewer: Member, candidate: Member) -> None:
        publisher = self._publishers.get(room.platform)
        if publisher is None:
            log.error(
                "no %s face is running: mock room %s got no introduction", room.platform, room.id
            )
            return
        scenario = self.scenario(room.scenario_id)
        zones = []
        for m in (interviewer, candidate):
            if room.matched_at and room.matched_at > self._clock.now():
                local = room.matched_at.astimezone(ZoneInfo(m.timezone or "UTC"))
                zones.append(f"{m.display_name}: {local:%a %d %b %H:%M} ({local.tzinfo})")
        text = (
            f"Mock round {room.round} ({room.kind}). Interviewer: **{interviewer.display_name}**; "
            f"candidate: **{candidate.display_name}**. Both confirm with /mock status within "
            f"{int(self.no_show.total_seconds() // 60)} minutes, then /mock start begins the "
            "45 minutes. "
            + (
                "Talk in the room's voice channel."
                if room.voice_channel_id
                else "Start a call (on Slack, a huddle) in this room to talk."
            )
        )
        fields = []
        if scenario is not None:
            fields.append(MessageField("Scenario", scenario.text))
        if zones:
            fields.append(MessageField("Booked for", "\n".join(zones)))
        channel = Channel(room.platform, room.workspace_id, room.channel_id or "")  # type: ignore[arg-type]
        try:
            await publisher.post(
                channel,
                Message(header="Mock interview", text=text, fields=tuple(fields)),
                idempotency_key=f"mock:{room.id}:intro",
            )
            if scenario is not None:
                await publisher.send_dm(
                    interviewer.platform_user_id, compose_brief(self._library, scenario)
                )
        except PublishError as exc:
            log.warning("mock room %s: introduction not delivered: %s", room.id, exc)

    async def leave(self, actor: Actor) -> str:
        """Leave the queue, or release an unstarted room (the partner goes to the front)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort, member = await self._cohort_member(session, actor)
            assert cohort.id is not None and member.id is not None
            entry = await repo.queue_entry(session, cohort_id=cohort.id, member_id=member.id)
            if entry is not None:
                await repo.remove_queue_entries(session, entry_ids=[entry.id or 0])
                return "You left the mock queue."
            room = await repo.open_room_of_member(session, member_id=member.id)
            if room is None:
                raise NotFound("You are not queued for a mock; /mock join queues you.")
            if room.status != "matched":
                raise Conflict("Your mock is under way; /mock end closes it instead.")
            await self._release(session, room, ReleaseReason.LEFT, leaver=member.id, now=now)
        await self._close_platform_room(room)
        return "You left the mock; your partner is back at the front of the queue."

    async def _release(
        self,
        session: AsyncSession,
        room: MockRoom,
        reason: ReleaseReason,
        *,
        leaver: int | None,
        now: datetime,
    ) -> None:
        assert room.id is not None
        members = [m for m in (room.interviewer_id, room.candidate_id) if m is not None]
        back = requeue_after_release(
            reason=reason, leaver=leaver, members=members, confirmed=room.confirmed
        )
        await repo.update_room(session, room_id=room.id, status="released", finished_at=now)
        for member_id in back:
            await repo.add_queue_entry(
                session,
                entry=MockQueueEntry(
                    cohort_id=room.cohort_id,
                    member_id=member_id,
                    kind=room.kind,
                    queued_at=now,
                    front=True,
                ),
            )

    async def status_of(self, actor: Actor) -> QueueView:
        """Tell the member where they stand; in a room, it confirms they are there."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            cohort, member = await self._cohort_member(session, actor)
            assert cohort.id is not None and member.id is not None
            room = await repo.open_room_of_member(session, member_id=member.id)
            if room is not None:
                if member.id not in room.confirmed:
                    await repo.update_room(
                        session,
                        room_id=room.id or 0,
                        confirmed=[*room.confirmed, member.id],
                        last_activity_at=now,
                    )
                return QueueView(room=await self._view(session, room, now))
            entries = await repo.waiting_in_cohort(session, cohort_id=cohort.id)
            mine = next((e for e in entries if e.member_id == member.id), None)
            if mine is None:
                return QueueView()
            waiting = [
                Waiting(e.member_id, e.cohort_id, e.kind, e.queued_at, e.front, e.slot_at)
                for e in entries
            ]
            waited = (now - mine.queued_at).total_seconds() / 60
            zone = ZoneInfo(member.timezone or cohort.timezone or "UTC")
            return QueueView(
                position=queue_position(waiting, member.id),
                waited_min=waited,
                kind=mine.kind,
                slot=None
                if mine.slot_at is None
                else f"{mine.slot_at.astimezone(zone):%a %d %b %H:%M} ({zone.key})",
                long_wait=mine.slot_at is None and waited * 60 >= self.queue_wait.total_seconds(),
            )

    async def _view(self, session: AsyncSession, room: MockRoom, now: datetime) -> RoomView:
        interviewer = (
            None if room.interviewer_id is None else await session.get(Member, room.interviewer_id)
        )
        candidate = await session.get(Member, room.candidate_id)
        scenario = self.scenario(room.scenario_id)
        view = RoomView(
            room_id=room.id or 0,
            status=room.status,
            kind=room.kind,
            round=room.round,
            interviewer=interviewer.display_name
            if interviewer
            else ("StudyBot" if room.interviewer_id is None else "?"),
            candidate=candidate.display_name if candidate else "?",
            scenario=scenario.title if scenario else room.kind,
        )
        if room.started_at is not None and room.status in ("running", "paused"):
            where = phase_at(timeline_of(room, self.phases), now)
            return RoomView(
                **{
                    **view.__dict__,
                    "phase": where.phase.name,
                    "phase_left_min": where.minutes_left,
                    "total_left_min": where.total_left,
                },
            )
        return view

    # --- the timer, driven by members ------------------------------------------------------

    async def start(self, actor: Actor) -> RoomView:
        """Begin the guide's five phases in this room."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found, member, _ = await self._my_room(session, actor)
            room = await repo.get_room(session, room_id=found.id or 0, lock=True)
            assert room is not None
            if room.status in ("running", "paused"):
                raise Conflict("This mock is running already; /mock status shows the time left.")
            if room.status != "matched":
                raise Conflict("This mock is over; /mock swap starts a round with roles reversed.")
            confirmed = sorted({*room.confirmed, member.id})
            await repo.update_room(
                session,
                room_id=room.id or 0,
                status="running",
                started_at=now,
                next_due_at=now,
                confirmed=confirmed,
                last_activity_at=now,
            )
            room.status, room.started_at, room.confirmed = "running", now, confirmed
            view = await self._view(session, room, now)
        await self._edit_status(room, view)  # the one status message, edited from now on
        self.changed.set()
        return view

    async def pause(self, actor: Actor) -> RoomView:
        """Stop the clock of this room."""
        return await self._change_timer(actor, "pause")

    async def resume(self, actor: Actor) -> RoomView:
        """Start the clock of this room again; later boundaries move by the pause."""
        return await self._change_timer(actor, "resume")

    async def extend(self, actor: Actor, minutes_text: str | int) -> RoomView:
        """Lengthen the phase in progress by some minutes."""
        try:
            minutes = int(str(minutes_text).strip())
        except ValueError:
            raise InvalidInput(
                f"Extend by a whole number of minutes, e.g. /mock extend 5; got {minutes_text!r}."
            ) from None
        problem = extension_problem(minutes)
        if problem is not None:
            raise InvalidInput(problem)
        return await self._change_timer(actor, "extend", minutes=minutes)

    async def _change_timer(self, actor: Actor, what: str, *, minutes: int = 0) -> RoomView:
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found, _, _ = await self._my_room(session, actor)
            room = await repo.get_room(session, room_id=found.id or 0, lock=True)
            assert room is not None and room.id is not None
            if room.status not in ("running", "paused"):
                raise Conflict("This mock has not started; /mock start begins it.")
            spans = [list(s) for s in room.paused_spans]
            changes: dict[str, Any] = {"last_activity_at": now}
            if what == "pause":
                if room.status == "paused":
                    raise Conflict("This mock is paused already; /mock resume restarts the clock.")
                spans.append([_iso(now), None])
                changes.update(status="paused", paused_at=now, paused_spans=spans)
            elif what == "resume":
                if room.status != "paused":
                    raise Conflict("This mock is not paused.")
                spans[-1][1] = _iso(now)
                changes.update(status="running", paused_at=None, paused_spans=spans)
            else:
                if room.status == "paused":
                    raise Conflict("Resume the mock first (/mock resume), then extend it.")
                at = interview_minutes(timeline_of(room, self.phases), now)
                changes["extensions"] = [*room.extensions, [at, minutes]]
            room.paused_spans = spans
            room.extensions = changes.get("extensions", room.extensions)
            room.status = changes.get("status", room.status)
            keys = await repo.announcement_keys(session, room_id=room.id)
            due = due_announcements(timeline_of(room, self.phases), now, keys)
            changes["next_due_at"] = now if due.announce or due.dropped else due.next_due_at
            await repo.update_room(session, room_id=room.id, **changes)
            view = await self._view(session, room, now)
        self.changed.set()
        await self._edit_status(room, view)
        return view

    async def end(self, actor: Actor) -> RoomView:
        """End the mock now; the interviewer fills in the scorecard."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found, _, _ = await self._my_room(session, actor)
            room = await repo.get_room(session, room_id=found.id or 0, lock=True)
            assert room is not None
            if room.status not in ("matched", "running", "paused"):
                raise Conflict("This mock has ended already.")
            status = "scoring" if room.started_at is not None else "closed"
            await repo.update_room(
                session,
                room_id=room.id or 0,
                status=status,
                next_due_at=None,
                finished_at=now,
                last_activity_at=now,
            )
            room.status = status
            view = await self._view(session, room, now)
        if status == "closed":
            await self._close_platform_room(room)
        elif self.solo is not None and room.interviewer_id is None:
            await self.solo.finish(room.id or 0)
        return view

    async def swap(self, actor: Actor) -> RoomView:
        """Run a second round in the same room with the roles reversed."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            room, _, _ = await self._my_room(session, actor)
            if room.status in ("matched", "running", "paused"):
                raise Conflict("Finish this round first (/mock end), then /mock swap.")
            if room.round >= 2:
                raise Conflict("You have swapped already; /mock join finds a new partner.")
            scenario = (
                pick_scenario(
                    [s.id for s in self.scenarios], seen_by_a=[room.scenario_id or ""], seen_by_b=[]
                )
                if room.scenario_id
                else None
            )
            if room.status == "scoring":
                await repo.update_room(session, room_id=room.id or 0, status="closed")
            new = await repo.add_room(
                session,
                room=MockRoom(
                    cohort_id=room.cohort_id,
                    interviewer_id=room.candidate_id,
                    candidate_id=room.interviewer_id,
                    status="matched",
                    kind=room.kind,
                    round=room.round + 1,
                    previous_room_id=room.id,
                    scenario_id=scenario,
                    platform=room.platform,
                    workspace_id=room.workspace_id,
                    channel_id=room.channel_id,
                    voice_channel_id=room.voice_channel_id,
                    matched_at=now,
                    last_activity_at=now,
                    confirmed=[m for m in (room.interviewer_id, room.candidate_id) if m],
                ),
            )
            interviewer = await session.get(Member, new.interviewer_id)
            candidate = await session.get(Member, new.candidate_id)
            view = await self._view(session, new, now)
        assert interviewer is not None and candidate is not None
        await self._post_intro(new, interviewer, candidate)
        return view

    # --- scorecard and history -------------------------------------------------------------

    def scorecard_form(self) -> tuple[list[str], tuple[str, ...], list[str], list[str]]:
        """Return what the scorecard asks: aspects, scale, red flags, green flags."""
        guide = self._library.guide
        return (
            [a.aspect for a in guide.scoring_rubric],
            SCALE,
            list(guide.red_flags),
            list(guide.green_flags),
        )

    async def save_scorecard_pick(
        self,
        actor: Actor,
        *,
        room_id: int,
        aspect: str | None = None,
        level: str | None = None,
        flags: Sequence[str] | None = None,
    ) -> None:
        """Keep one pick of the scorecard form in the room (it survives a restart of the bot)."""
        from bot.domain.scorecards import parse_level

        aspects, _, reds, greens = self.scorecard_form()
        async with self._sessions.begin() as session:
            _, _, role = await self._my_room(session, actor, room_id)
            if role != "interviewer":
                raise NotAllowed("Only the interviewer fills in the scorecard.")
            room = await repo.get_room(session, room_id=room_id, lock=True)
            assert room is not None
            draft = dict(room.scorecard.get("draft", {}))
            if aspect is not None:
                parsed = parse_level(level or "")
                if aspect not in aspects or parsed is None:
                    raise InvalidInput(f"Rate {aspect!r} as one of: {', '.join(SCALE)}.")
                draft["ratings"] = {**draft.get("ratings", {}), aspect: parsed}
            if flags is not None:
                unknown = [f for f in flags if f not in (*reds, *greens)]
                if unknown:
                    raise InvalidInput(f"Unknown flag {unknown[0]!r}: pick the guide's flags.")
                draft["flags"] = list(flags)
            await repo.update_room(
                session,
                room_id=room_id,
                scorecard={**room.scorecard, "draft": draft},
                last_activity_at=self._clock.now(),
            )

    async def scorecard_room(self, actor: Actor) -> int:
        """Return the room whose scorecard this interviewer fills in here."""
        async with self._sessions() as session:
            room, _, role = await self._my_room(session, actor)
        if role != "interviewer":
            raise NotAllowed("Only the interviewer fills in the scorecard; you can /mock selfrate.")
        return room.id or 0

    async def scorecard_draft(self, actor: Actor, *, room_id: int) -> dict[str, Any]:
        """Return the picks kept so far for a room's scorecard."""
        async with self._sessions() as session:
            room, _, _ = await self._my_room(session, actor, room_id)
            return dict(room.scorecard.get("draft", {}))

    async def submit_scorecard_draft(self, actor: Actor, *, room_id: int, comment: str) -> str:
        """Send the scorecard from the picks kept in the room plus the comment."""
        draft = await self.scorecard_draft(actor, room_id=room_id)
        return await self.submit_scorecard(
            actor,
            ratings=draft.get("ratings", {}),
            flags=draft.get("flags", []),
            comment=comment,
            room_id=room_id,
        )

    async def submit_scorecard(
        self,
        actor: Actor,
        *,
        ratings: Mapping[str, str],
        flags: Sequence[str],
        comment: str,
        room_id: int | None = None,
    ) -> str:
        """Store the interviewer's scorecard, DM it to the candidate, award both their points."""
        aspects, _, reds, greens = self.scorecard_form()
        try:
            card = check_scorecard(
                aspects=aspects,
                ratings=ratings,
                flags=flags,
                red_flags=reds,
                green_flags=greens,
                comment=comment,
            )
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        now = self._clock.now()
        async with self._sessions.begin() as session:
            found, member, role = await self._my_room(session, actor, room_id)
            if role != "interviewer":
                raise NotAllowed(
                    "Only the interviewer fills in the scorecard; you can /mock selfrate."
                )
            room = await repo.get_room(session, room_id=found.id or 0, lock=True)
            assert room is not None and room.id is not None
            if room.status != "scoring":
                raise Conflict("The scorecard opens when the mock ends (/mock end).")
            scorecard = dict(room.scorecard)
            if "interviewer" in scorecard:
                raise Conflict("The scorecard of this round is in already.")
            scorecard["interviewer"] = {
                "ratings": card.ratings,
                "red_flags": list(card.red_flags),
                "green_flags": list(card.green_flags),
                "comment": card.comment,
            }
            await repo.update_room(
                session,
                room_id=room.id,
                scorecard=scorecard,
                status="closed",
                finished_at=now,
                last_activity_at=now,
            )
            cohort = await cohort_repo.get_cohort(session, cohort_id=room.cohort_id)
            assert cohort is not None
            day = now.astimezone(ZoneInfo(cohort.timezone)).date()
            awards = mock_awards(
                room.id, interviewer_id=room.interviewer_id, candidate_id=room.candidate_id
            )
            for member_id, award in awards:
                await points_store.record_award(
                    session,
                    cohort_id=room.cohort_id,
                    member_id=member_id,
                    reason=award.reason,
                    ref=award.ref,
                    points=award.points,
                    local_day=day,
                    at=now,
                )
            candidate = await session.get(Member, room.candidate_id)
        publisher = self._publishers.get(room.platform)
        if publisher is not None and candidate is not None:
            lines = [f"• {a}: {SCALE_LABELS[v]}" for a, v in card.ratings.items()]
            fields = [MessageField("Ratings", "\n".join(lines))]
            if card.green_flags:
                fields.append(MessageField("Green flags", "\n".join(card.green_flags)))
            if card.red_flags:
                fields.append(MessageField("Red flags", "\n".join(card.red_flags)))
            if card.comment:
                fields.append(MessageField("Comment", card.comment))
            try:
                await publisher.send_dm(
                    candidate.platform_user_id,
                    Message(header="Your mock scorecard", fields=tuple(fields)),
                )
            except PublishError as exc:
                log.warning("mock %s: scorecard DM not delivered: %s", room.id, exc)
        if room.round < 2:
            return (
                "Scorecard saved and sent to the candidate. "
                "/mock swap runs a round with roles reversed."
            )
        await self._close_platform_room(room)
        return "Scorecard saved and sent to the candidate."

    async def self_rate(self, actor: Actor, level: str) -> str:
        """Store the candidate's rating of their own interview."""
        from bot.domain.scorecards import parse_level

        parsed = parse_level(level)
        if parsed is None:
            raise InvalidInput(f"Rate yourself as one of: {', '.join(SCALE)} (got {level!r}).")
        async with self._sessions.begin() as session:
            room, _, role = await self._my_room(session, actor)
            if role != "candidate":
                raise NotAllowed(
                    "Only the candidate rates themselves; the interviewer fills in the scorecard."
                )
            if room.started_at is None:
                raise Conflict("Rate yourself once the mock has run.")
            await repo.update_room(
                session, room_id=room.id or 0, scorecard={**room.scorecard, "self": parsed}
            )
        return f"Self-rating saved: {SCALE_LABELS[parsed]}."

    async def history(self, actor: Actor) -> list[HistoryEntry]:
        """Return the member's past mocks, newest first."""
        async with self._sessions() as session:
            _, member = await self._cohort_member(session, actor)
            assert member.id is not None
            rooms = await repo.past_rooms(session, member_ids=[member.id], limit=25)
            out = []
            for r in rooms:
                role = "interviewer" if r.interviewer_id == member.id else "candidate"
                partner_id = r.candidate_id if role == "interviewer" else r.interviewer_id
                partner = None if partner_id is None else await session.get(Member, partner_id)
                scenario = self.scenario(r.scenario_id)
                card = r.scorecard.get("interviewer", {})
                out.append(
                    HistoryEntry(
                        room_id=r.id or 0,
                        when=r.started_at or r.created_at,
                        partner=partner.display_name if partner else "StudyBot (solo)",
                        role=role,
                        scenario=scenario.title if scenario else r.kind,
                        scorecard=summary(card.get("ratings", {})) if card else "not scored",
                    )
                )
        return out

    # --- the timer, driven by the clock ----------------------------------------------------

    async def announce_due(self) -> TimerReport:
        """Make every announcement that is due in any running room, each once across processes."""
        report = TimerReport()
        claimed = await self.claim_due(report)
        await self.say_and_record(claimed.rooms, report, asyncio.Semaphore(self.rooms_in_flight))
        return report

    async def claim_due(self, report: TimerReport, exclude: Iterable[int] = ()) -> ClaimedPass:
        """Claim every due announcement of every running room (but the excluded) at once.

        One transaction: read the due rooms and what each announced, drop the warnings whose
        boundary passed, claim every due announcement in one insert, move on the rooms with
        nothing to say, and read when the next room falls due. A claim is held under a lease
        until the announcement is recorded: a process dying before that leaves it to be taken
        over (and said) by another, never lost, never said twice by two live processes.
        """
        now = self._clock.now()
        skip = set(exclude)
        claimed: list[ClaimedRoom] = []
        async with self._sessions.begin() as session:
            rooms = await repo.rooms_due(
                session, now=now, exclude=list(skip), limit=self.rooms_per_pass
            )
            made = await repo.announcement_keys_of(session, room_ids=[r.id or 0 for r in rooms])
            plans: list[tuple[MockRoom, DueAnnouncements]] = []
            dropped: list[MockAnnouncement] = []
            for room in rooms:
                if room.started_at is None:
                    continue
                room_id = room.id or 0
                timeline = timeline_of(room, self.phases)
                due = due_announcements(timeline, now, made[room_id])
                plans.append((room, due))
                if not due.dropped:
                    continue
                # A dropped warning keeps the phase it would have been said in.
                phase_of = {b.key: b.phase.slug for b in boundaries(timeline)}
                dropped += [
                    MockAnnouncement(
                        room_id=room_id,
                        key=key,
                        kind="warning",
                        phase=phase_of[key],
                        status="dropped",
                        due_at=now,
                        sent_at=now,
                        holder=self.holder,
                    )
                    for key in due.dropped
                ]
            await repo.record_announcements(session, announcements=dropped)
            report.dropped += [(a.room_id, a.key) for a in dropped]
            tokens = await claims_repo.acquire_claims(
                session,
                keys=[f"mock:{room.id}:{a.key}" for room, due in plans for a in due.announce],
                holder=self.holder,
                now=now,
                policy=self.policy,
            )
            idle: list[repo.RoomMove] = []
            for room, due in plans:
                if not due.announce:
                    idle.append(repo.RoomMove(room.id or 0, room.next_due_at, due.next_due_at))
                    continue
                held = [
                    (a, tokens[key])
                    for a in due.announce
                    if (key := f"mock:{room.id}:{a.key}") in tokens
                ]
                if held:  # none held: another process says them (or its claims run out)
                    claimed.append(
                        ClaimedRoom(room, made[room.id or 0], due.dropped, held, claimed_at=now)
                    )
            await repo.move_rooms_if_unchanged(session, moves=idle)
            skip.update(c.room.id or 0 for c in claimed)
            upcoming = await repo.next_due(session, exclude=list(skip))
        return ClaimedPass(claimed, upcoming)

    async def say_and_record(
        self, claimed: Sequence[ClaimedRoom], report: TimerReport, gate: asyncio.Semaphore
    ) -> datetime | None:
        """Say the claimed announcements, a few rooms at a time, then record them together.

        Return when the next announcement of these rooms falls (None: none is known).
        """
        await asyncio.gather(*(self._say_room(c, report, gate) for c in claimed))
        # A room not said gave its claims back (or lost them): the next planned look, at most
        # a tick away, tries it again; waking at once would retry a failing face in a loop.
        said = [c for c in claimed if c.sent_at is not None]
        if not said:
            return None
        try:
            ended, after = await self._record_said(said, report)
        except Exception:
            # One room's record failing must not hold back the others' (their claims would
            # run out and be said again): record each room on its own.
            log.exception("mock timer: recording %d rooms together failed", len(said))
            ended, after = [], None
            for c in said:
                try:
                    ended += (await self._record_said([c], report))[0]
                except Exception:
                    log.exception("mock room %s: announcement not recorded", c.room.id)
        for room_id in ended:
            await self.solo.finish(room_id)  # the interviewer's scorecard, from the transcript
        return after

    async def _say_room(self, c: ClaimedRoom, report: TimerReport, gate: asyncio.Semaphore) -> None:
        """Say one room's claimed announcements (one failing room never stops the others)."""
        async with gate:
            try:
                await self._say(c)
            except FenceTooSlow as exc:
                # No check could cover a send: give the claims back for the next look, which
                # finds anything this pass did say before it sends the rest.
                log.warning("mock room %s: %s; the claims are given back", c.room.id, exc)
                try:
                    await self._give_back(c.tokens, self._clock.now(), str(exc))
                except Exception:
                    log.warning("mock room %s: claims kept until their lease ends", c.room.id)
                report.lost += 1
            except ClaimLost:
                report.lost += 1
            except Exception:
                log.exception("mock room %s: announcement failed", c.room.id)

    async def _say(self, c: ClaimedRoom) -> None:
        room, tokens, now = c.room, c.tokens, c.claimed_at
        room_id = room.id or 0
        publisher = self._publishers.get(room.platform)
        if publisher is None:
            # Recorded only once said: give the claims back for a process whose face runs.
            log.error("no %s face is running: mock room %s waits", room.platform, room_id)
            await self._give_back(tokens, now, "no face")
            return
        channel = Channel(room.platform, room.workspace_id, room.channel_id or "")  # type: ignore[arg-type]
        # A claim taken over (its holder killed, or paused past its lease, or it gave the claim
        # back after an error) may have been said already: the platform took the post and the
        # holder never recorded it. Look before saying it again; a fresh claim needs no look.
        taken_over = any(not token.fresh for _, token in tokens)
        fenced_from = now  # when the last fence check that passed began: the claim was the first

        async def fence() -> None:
            # Right before each send: a check begun before a pause or a stall does not cover
            # it, since the claim may be another process's by now (then ClaimLost: say nothing).
            nonlocal fenced_from

            async def check(checked_from: datetime) -> None:
                async with self._sessions.begin() as session:
                    for _, token in tokens:
                        await claims_repo.fence(
                            session, token=token, now=checked_from, policy=self.policy
                        )

            fenced_from = await claims_repo.fence_for_send(
                self.policy, self._clock.now, fenced_from, check, token=tokens[0][1]
            )

        try:
            posted = (
                await self._posted_before(publisher, channel, room_id, tokens)
                if taken_over
                else set()
            )
            todo = [a for a, _ in tokens if a.key not in posted]
            status_text = self._compose_announcements(room, [a for a, _ in tokens], now)
            message = self._compose_announcements(room, todo, now)
            if self.solo is not None and room.interviewer_id is None:
                for a, _ in tokens:
                    line = self.solo.phase_line(room, a)
                    if line:
                        c.solo_lines.append((a, line))  # recorded, said or not this time
                said_lines = [line for a, line in c.solo_lines if a.key not in posted]
                if said_lines:
                    text = "\n".join(f"**StudyBot:** {line}" for line in said_lines)
                    message = Message(
                        header=message.header, text=f"{message.text}\n{text}", fields=message.fields
                    )
            # Every boundary (a phase beginning, the end) gets a new message, however soon after
            # a late one it comes: an edit of the status message, further up, notifies nobody.
            new_message = any(a.kind != AnnouncementKind.WARNING for a in todo)
            sent_at = self._clock.now()
            if new_message:
                await fence()
                key = announcement_post_key(room_id, todo)
                sent = await publisher.post(channel, message, idempotency_key=key)
                if taken_over or self._fence_lapsed(fenced_from):
                    # A racer's copy (the holder this claim was taken from, stalled in its
                    # send, or this one's taker) may have come first: the channel keeps one.
                    await keep_first_copy(publisher, channel, key, sent)
        except PublishError as exc:
            await self._give_back(tokens, self._clock.now(), str(exc))
            raise
        await self._say_status(
            c,
            publisher,
            channel,
            status_text,
            fence,
            look=taken_over,
            lapsed=lambda: self._fence_lapsed(fenced_from),
        )
        # A post found counts as this pass's new message.
        c.sent_at, c.new_message = sent_at, new_message or bool(posted)

    async def _give_back(
        self, tokens: Sequence[tuple[Announcement, ClaimToken]], now: datetime, error: str
    ) -> None:
        """Release a room's claims in one transaction, so any process takes them at once."""
        async with self._sessions.begin() as session:
            for _, token in tokens:
                await claims_repo.release_claim(session, token=token, now=now, error=error[:500])

    def _fence_lapsed(self, fenced_from: datetime) -> bool:
        """Tell whether a send ending now ended outside the window its fence check covers."""
        return not self.policy.fence_still_fresh(fenced_from, self._clock.now())

    async def _posted_before(
        self,
        publisher: Publisher,
        channel: Channel,
        room_id: int,
        tokens: Sequence[tuple[Announcement, ClaimToken]],
    ) -> set[str]:
        """Return the keys of the held boundaries an earlier holder's post already carries.

        An earlier holder's post carried a run of the boundaries it held, keyed by the run's
        first and last (`announcement_post_key`). Those boundaries are still unrecorded, so
        this process holds them too, taken over (a fresh claim was never anyone's, so never
        said): every run of them is looked for, the longest from each start first, whatever
        the earlier holder's grouping was. Warnings are never looked for: they ride along.
        """
        taken = [a for a, token in tokens if a.kind != AnnouncementKind.WARNING and not token.fresh]
        posted: set[str] = set()
        first = 0
        while first < len(taken):
            for last in range(len(taken) - 1, first - 1, -1):
                key = announcement_post_key(room_id, taken[first : last + 1])
                if await publisher.find_posted(channel, key) is not None:
                    posted.update(a.key for a in taken[first : last + 1])
                    first = last
                    break
            first += 1
        if posted:
            log.info("mock room %s: found the post of %s already made", room_id, sorted(posted))
        return posted

    async def _say_status(
        self,
        c: ClaimedRoom,
        publisher: Publisher,
        channel: Channel,
        announcement: Message,
        fence: Callable[[], Awaitable[None]],
        *,
        look: bool,
        lapsed: Callable[[], bool],
    ) -> None:
        """Edit the room's status message, or post it the first time (recorded under the fence).

        A taken over claim looks for the status message first: the earlier holder may have
        posted it and died (or paused) before recording it. A first post that may have raced
        another process's (`look`, or its send ended outside its fence's window) keeps the
        first copy.
        """
        room = c.room
        message = self._status_message(room, self._timer_view(room), announcement)
        message_id = room.status_message_id
        key = f"mock:{room.id}:status"
        try:
            if message_id is None and look:
                found = await publisher.find_posted(channel, key)
                if found is not None:
                    message_id = found.message_id
                    await self._record_status_message(c, message_id)
            await fence()
            if message_id:
                await publisher.edit(SentMessage(message_id, channel.channel_id), message)
                return
            sent = await publisher.post(channel, message, idempotency_key=key)
            if look or lapsed():
                sent = await keep_first_copy(publisher, channel, key, sent)
        except PublishError as exc:  # the announcement stands; the next one edits it
            log.warning("mock room %s: status not updated: %s", room.id, exc)
            return
        await self._record_status_message(c, sent.message_id)

    async def _record_status_message(self, c: ClaimedRoom, message_id: str) -> None:
        """Record the room's status message while the claims hold (ClaimLost: not recorded)."""
        async with self._sessions.begin() as session:
            for _, token in c.tokens:
                await claims_repo.fence(
                    session, token=token, now=self._clock.now(), policy=self.policy
                )
            if not await repo.set_status_message(
                session, room_id=c.room.id or 0, message_id=message_id
            ):
                log.warning("mock room %s: a status message was recorded meanwhile", c.room.id)
        c.room.status_message_id = message_id

    async def _record_said(
        self, said: Sequence[ClaimedRoom], report: TimerReport
    ) -> tuple[list[int], datetime | None]:
        """Record what was said in one transaction.

        Return the solo rooms that ended, and the soonest next announcement of the rooms.
        """
        done = self._clock.now()
        sent: list[tuple[int, str, datetime]] = []
        lost = 0
        ended_solo: list[int] = []
        async with self._sessions.begin() as session:
            # Finishing is fenced (holder and epoch): a claim taken over records nothing here;
            # its new holder says and records it.
            held = await claims_repo.finish_claims(
                session, tokens=[t for c in said for _, t in c.tokens], now=done
            )
            rows: list[MockAnnouncement] = []
            moves: list[repo.RoomMove] = []
            for c in said:
                room, room_id = c.room, c.room.id or 0
                assert c.sent_at is not None
                mine = [(a, t) for a, t in c.tokens if t.claim_id in held]
                rows += [
                    MockAnnouncement(
                        room_id=room_id,
                        key=a.key,
                        kind=a.kind.value,
                        phase=a.phase.slug,
                        due_at=a.due_at,
                        sent_at=c.sent_at,
                        holder=self.holder,
                        epoch=token.epoch,
                    )
                    for a, token in mine
                ]
                sent += [(room_id, a.key, c.sent_at) for a, _ in mine]
                for a, line in c.solo_lines:
                    if any(a is b for b, _ in mine):
                        await self.solo.record_phase_line(session, room, a, line)
                if len(mine) < len(c.tokens):
                    lost += 1  # the room moves on from what its other holder records
                    continue
                made = {*c.made, *c.dropped, *(a.key for a, _ in mine)}
                new_message_at = c.sent_at if c.new_message else room.last_new_message_at
                if any(a.kind == AnnouncementKind.END for a, _ in mine):
                    await repo.update_room(
                        session,
                        room_id=room_id,
                        status="scoring",
                        next_due_at=None,
                        finished_at=done,
                        last_new_message_at=new_message_at,
                    )
                    if self.solo is not None and room.interviewer_id is None:
                        ended_solo.append(room_id)
                    continue
                rest = due_announcements(timeline_of(room, self.phases), done, made)
                moves.append(
                    repo.RoomMove(
                        room_id,
                        room.next_due_at,
                        done if rest.announce else rest.next_due_at,
                        c.sent_at if c.new_message else None,
                    )
                )
            await repo.record_announcements(session, announcements=rows)
            # Compare-and-set on the state the claim read: a pause, resume or extension made
            # meanwhile wrote its own next_due_at, which must not be overwritten.
            await repo.move_rooms_if_unchanged(session, moves=moves)
        soonest = min((m.next_due_at for m in moves if m.next_due_at is not None), default=None)
        report.sent += sent
        report.lost += lost
        return ended_solo, soonest

    def _compose_announcements(
        self, room: MockRoom, due: Sequence[Announcement], now: datetime
    ) -> Message:
        lines: list[str] = []
        fields: list[MessageField] = []
        for a in due:
            name = a.phase.name
            if a.kind == AnnouncementKind.WARNING:
                lines.append(f"One minute left in {name}.")
            elif a.kind == AnnouncementKind.END:
                lines.append(
                    "Time is up: the 45 minutes are over."
                    + (f" (It ended {describe_ago(a.late_by)}.)" if a.late else "")
                    + " Interviewer: fill in the scorecard (/mock scorecard); candidate: "
                    "/mock selfrate. Then /mock swap for a round with roles reversed."
                )
            else:
                when = f" began {describe_ago(a.late_by)}" if a.late else " begins now"
                lines.append(f"**{name}**{when}. Focus: {a.phase.focus}.")
                fields.append(
                    MessageField(
                        f"{name}: deliverables", "\n".join(f"• {d}" for d in a.phase.deliverables)
                    )
                )
        return Message(header=f"Mock {room.id}", text="\n".join(lines), fields=tuple(fields))

    async def _edit_status(
        self,
        room: MockRoom,
        view: RoomView | None,
        *,
        announcement: Message | None = None,
    ) -> None:
        """Edit the room's one status message in place (post it the first time)."""
        publisher = self._publishers.get(room.platform)
        if publisher is None or room.channel_id is None:
            return
        if view is None:
            async with self._sessions() as session:
                fresh = await repo.get_room(session, room_id=room.id or 0)
                if fresh is None:
                    return
                view = await self._view(session, fresh, self._clock.now())
                room = fresh
        message = self._status_message(room, view, announcement)
        if room.channel_id is None:
            return
        channel = Channel(room.platform, room.workspace_id, room.channel_id)  # type: ignore[arg-type]
        try:
            if room.status_message_id:
                await publisher.edit(SentMessage(room.status_message_id, room.channel_id), message)
                return
            sent = await publisher.post(channel, message, idempotency_key=f"mock:{room.id}:status")
        except PublishError as exc:
            log.warning("mock room %s: status not updated: %s", room.id, exc)
            return
        async with self._sessions.begin() as session:
            await repo.set_status_message(session, room_id=room.id or 0, message_id=sent.message_id)

    def _timer_view(self, room: MockRoom) -> RoomView:
        """Return a running room's view from the state the timer just read (no query)."""
        where = phase_at(timeline_of(room, self.phases), self._clock.now())
        return RoomView(
            room_id=room.id or 0,
            status=room.status,
            kind=room.kind,
            round=room.round,
            interviewer="",
            candidate="",
            scenario="",
            phase=where.phase.name,
            phase_left_min=where.minutes_left,
            total_left_min=where.total_left,
        )

    @staticmethod
    def _status_message(room: MockRoom, view: RoomView, announcement: Message | None) -> Message:
        text = (
            f"{view.phase}: {view.phase_left_min:.0f} min left in the phase, "
            f"{view.total_left_min:.0f} in all."
            if view.phase
            else f"Mock {view.status}."
        )
        if view.status == "paused":
            text = "Paused. " + text + " /mock resume restarts the clock."
        if announcement is not None:
            text = f"{announcement.text}\n{text}"
        return Message(header=f"Mock {room.id}: status", text=text)

    async def close_stale(self) -> list[int]:
        """Release no-show matches and close rooms nobody touched for the idle timeout."""
        now = self._clock.now()
        closed: list[MockRoom] = []
        async with self._sessions.begin() as session:
            candidates = await repo.stale_rooms(
                session, matched_before=now - self.no_show, touched_before=now - self.idle_close
            )
            for room in candidates:
                if room.status == "matched" and room.matched_at is not None:
                    if now - room.matched_at >= self.no_show and len(room.confirmed) < 2:
                        await self._release(
                            session, room, ReleaseReason.NO_SHOW, leaver=None, now=now
                        )
                        closed.append(room)
                        continue
                touched = room.last_activity_at or room.created_at
                if (
                    room.status in ("paused", "scoring", "matched")
                    and now - touched >= self.idle_close
                ):
                    await repo.update_room(
                        session,
                        room_id=room.id or 0,
                        status="closed",
                        next_due_at=None,
                        finished_at=now,
                    )
                    closed.append(room)
        for room in closed:
            await self._close_platform_room(room)
        for room in closed:
            if room.status == "matched":  # released: whoever showed up may practise solo now
                await self._offer_solo(room)
        if self.solo is not None:
            await self.solo.finish_pending()
            await self.solo.answer_pending()
        return [r.id or 0 for r in closed]

    async def _offer_solo(self, room: MockRoom) -> None:
        publisher = self._publishers.get(room.platform)
        if publisher is None:
            return
        async with self._sessions() as session:
            members = [
                m
                for m in [await session.get(Member, i) for i in room.confirmed if i is not None]
                if m is not None
            ]
        for member in members:
            try:
                await publisher.send_dm(
                    member.platform_user_id,
                    Message(
                        header="Your mock partner did not show",
                        text="You are back at the front of the queue. Or practise now with "
                        "StudyBot as the interviewer: /mock solo.",
                    ),
                )
            except PublishError as exc:
                log.warning("mock room %s: solo offer not delivered: %s", room.id, exc)

    async def remind_booked(self) -> list[int]:
        """At a booked slot: pair who booked it alone, and remind both members, each once.

        A member whose slot came with no partner booked for it waits at the front of the live
        queue from then (paired at once with anyone waiting). A pair matched for the slot gets
        one reminder in their room and by DM; the reminder is a fenced claim, so two processes
        or a retry never send it twice.
        """
        now = self._clock.now()
        rooms: list[int] = []
        due: list[tuple[MockRoom, ClaimToken]] = []
        async with self._sessions.begin() as session:
            cohorts: set[int] = set()
            for entry in await repo.slots_due(session, now=now):
                if await repo.slot_came(session, entry_id=entry.id or 0, slot_at=entry.slot_at):
                    cohorts.add(entry.cohort_id)
            session.expire_all()  # the entries changed under the loaded objects: read them anew
            for cohort_id in sorted(cohorts):
                cohort = await cohort_repo.get_cohort(session, cohort_id=cohort_id)
                if cohort is not None:
                    rooms += await self._match(session, cohort, now)
            for room in await repo.booked_rooms_due(session, now=now, since=now - self.no_show):
                token = await claims_repo.acquire_claim(
                    session,
                    key=f"mock:{room.id}:booked",
                    holder=self.holder,
                    now=now,
                    policy=self.policy,
                )
                if token is not None:
                    due.append((room, token))
        for room_id in rooms:
            await self._open(room_id)
        for room, token in due:
            try:
                await self._send_booked_reminder(room)
            except PublishError as exc:
                async with self._sessions.begin() as session:
                    await claims_repo.release_claim(
                        session, token=token, now=self._clock.now(), error=str(exc)[:500]
                    )
                log.warning("mock room %s: booked reminder not delivered: %s", room.id, exc)
                continue
            async with self._sessions.begin() as session:
                await claims_repo.finish_claim(session, token=token, now=self._clock.now())
            rooms.append(room.id or 0)
        return rooms

    async def _send_booked_reminder(self, room: MockRoom) -> None:
        publisher = self._publishers.get(room.platform)
        if publisher is None or room.channel_id is None:
            raise PublishError(f"no {room.platform} face is running", transient=True)
        async with self._sessions() as session:
            people = [
                m
                for m in [
                    await session.get(Member, room.interviewer_id),
                    await session.get(Member, room.candidate_id),
                ]
                if m is not None
            ]
        names = " and ".join(m.display_name for m in people)
        text = (
            f"Your booked mock starts now: {names}. Confirm with /mock status within "
            f"{int(self.no_show.total_seconds() // 60)} minutes, then /mock start."
        )
        message = Message(header="Booked mock: now", text=text)
        channel = Channel(room.platform, room.workspace_id, room.channel_id)  # type: ignore[arg-type]
        await publisher.post(channel, message, idempotency_key=f"mock:{room.id}:booked")
        for member in people:
            await publisher.send_dm(member.platform_user_id, message)

    async def next_slot_at(self) -> datetime | None:
        """Return the next booked slot still to come (the timer wakes for it)."""
        async with self._sessions() as session:
            return await repo.next_slot(session, now=self._clock.now())

    async def _close_platform_room(self, room: MockRoom) -> None:
        host = self._hosts.get(room.platform)
        if host is None or room.channel_id is None:
            return
        async with self._sessions() as session:
            style = await repo.room_style(session, cohort_id=room.cohort_id)
        try:
            await host.close_room(
                OpenedRoom(room.channel_id, room.voice_channel_id, archive=style != "group-dm")
            )
        except PublishError as exc:
            log.warning("mock room %s: could not close the platform room: %s", room.id, exc)

    async def next_due_at(self, exclude: Iterable[int] = ()) -> datetime | None:
        """Return when the next announcement of any running room falls (but those excluded)."""
        async with self._sessions() as session:
            return await repo.next_due(session, exclude=list(exclude))


class MockTimers:
    """The mock timer of one bot process: re-arms every open room at start, then announces."""

    def __init__(self, service: MockService, clock: Clock, *, tick_s: float = 1.0) -> None:
        self._service = service
        self._clock = clock
        self.tick_s = tick_s
        self._task: asyncio.Task[None] | None = None
        self.housekeeping_every = timedelta(seconds=30)
        # The shortest time between two looks: boundaries closer together than this are
        # claimed, said and recorded as one pass (fewer transactions, a little later each).
        self.min_gap_s = 0.0

    async def run(self) -> None:
        """Announce what is due, sleeping until the next boundary (or a local change).

        Each look at the clock claims what is due in every room at once, then hands the
        rooms to a task that says them (a few rooms at a time) and records them together.
        The loop does not wait for that task: a room falling due meanwhile is claimed at the
        next look and said as soon as a slot is free, not after the slowest of the others.
        """
        last_housekeeping: datetime | None = None
        next_slot: datetime | None = None
        gate = asyncio.Semaphore(self._service.rooms_in_flight)
        in_flight: dict[int, asyncio.Task[datetime | None]] = {}
        passes: set[asyncio.Task[datetime | None]] = set()
        report = TimerReport()
        sooner = asyncio.Event()  # a pass landed with a room due before the loop's next look
        wake_at: list[datetime | None] = [None]

        def landed(task: asyncio.Task[datetime | None], room_ids: list[int]) -> None:
            passes.discard(task)
            for room_id in room_ids:
                in_flight.pop(room_id, None)
            if task.cancelled():
                return
            if task.exception() is not None:
                log.error("mock timer: a pass failed", exc_info=task.exception())
                sooner.set()
                return
            after, planned = task.result(), wake_at[0]
            if after is not None and (planned is None or after < planned):
                sooner.set()

        try:
            while True:
                now = self._clock.now()
                slot_due = next_slot is not None and next_slot <= now
                if (
                    last_housekeeping is None
                    or now - last_housekeeping >= self.housekeeping_every
                    or slot_due
                    or self._service.changed.is_set()
                ):
                    await self._service.close_stale()
                    await self._service.remind_booked()
                    next_slot = await self._service.next_slot_at()
                    last_housekeeping = now
                self._service.changed.clear()
                sooner.clear()
                claimed = await self._service.claim_due(report, exclude=in_flight)
                if claimed.rooms:
                    task = asyncio.create_task(
                        self._service.say_and_record(claimed.rooms, report, gate)
                    )
                    room_ids = [c.room.id or 0 for c in claimed.rooms]
                    in_flight.update(dict.fromkeys(room_ids, task))
                    passes.add(task)
                    task.add_done_callback(lambda t, ids=room_ids: landed(t, ids))
                report.sent.clear()  # the timer keeps no history; tests read announce_due's
                report.dropped.clear()
                upcoming = claimed.next_due_at
                if next_slot is not None:
                    upcoming = next_slot if upcoming is None else min(upcoming, next_slot)
                wait = self.tick_s
                if upcoming is not None:
                    # Still due means another process holds that claim: look again shortly.
                    wait = min(
                        wait, max(self.tick_s / 20, (upcoming - self._clock.now()).total_seconds())
                    )
                wait = max(wait, self.min_gap_s - (self._clock.now() - now).total_seconds())
                wake_at[0] = self._clock.now() + timedelta(seconds=wait)
                sleeper = asyncio.ensure_future(self._clock.sleep(wait))
                poked = asyncio.ensure_future(self._service.changed.wait())
                # A pass landing frees its rooms: it wakes the loop only when one of them is
                # due before the look already planned (each landing waking it costs a look).
                landing = asyncio.ensure_future(sooner.wait())
                await asyncio.wait([sleeper, poked, landing], return_when=asyncio.FIRST_COMPLETED)
                for waiter in (sleeper, poked, landing):
                    waiter.cancel()
        finally:
            for task in list(passes):
                task.cancel()
            await asyncio.gather(*passes, return_exceptions=True)

    def start(self) -> None:
        """Run the timer in the background."""
        self._task = asyncio.create_task(self._guarded(), name="mock-timers")

    async def _guarded(self) -> None:
        while True:
            try:
                await self.run()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database blinked: keep the timers alive and retry
                log.exception("mock timer pass failed; retrying")
                await self._clock.sleep(self.tick_s)

    async def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
