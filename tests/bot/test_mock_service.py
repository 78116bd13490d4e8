"""Mock rooms end to end on an injected clock: queue, timer, recovery, races, bad input."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound, StudyBotError
from bot.messages import Channel, Message, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.mocks import MockService, OpenedRoom, RoomRequest, TimerReport
from bot.store import mocks as repo
from content import load_library

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADMIN = Actor("console", "local", "C1", "U-ada", "Ada", is_workspace_admin=True)
BOB = Actor("console", "local", "C1", "U-bob", "Bob")
CAL = Actor("console", "local", "C1", "U-cal", "Cal")


class RecordingPublisher:
    """A publisher that keeps what it was asked to send (the console face's contract)."""

    platform = "console"

    def __init__(self) -> None:
        self.posts: list[tuple[str, Message]] = []
        self.edits: list[tuple[str, Message]] = []
        self.dms: list[tuple[str, Message]] = []
        self._n = 0

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        self._n += 1
        self.posts.append((channel.channel_id, message))
        return SentMessage(f"m{self._n}", channel.channel_id)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        return None

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        return await self.post(channel, message, idempotency_key="")

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        self.dms.append((user_id, message))
        return SentMessage("dm", user_id)

    async def edit(self, sent: SentMessage, message: Message) -> None:
        self.edits.append((sent.message_id, message))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def make_service(
    db: Any, clock: FakeClock, publisher: RecordingPublisher, holder: str
) -> MockService:
    return MockService(
        db.sessions,
        load_library(),
        clock,
        {"console": publisher},
        holder=holder,
        policy=ClaimPolicy(lease_s=30),
    )


@pytest.fixture
async def service(db: Any, clock: FakeClock, publisher: RecordingPublisher) -> MockService:
    cohorts = CohortService(db.sessions, clock)
    await cohorts.setup(ADMIN)
    for actor in (BOB, CAL):
        await cohorts.join(actor)
    return make_service(db, clock, publisher, "bot-1")


def in_room(actor: Actor, room_channel: str) -> Actor:
    return Actor(
        actor.platform, actor.workspace_id, room_channel, actor.user_id, actor.display_name
    )


async def paired(service: MockService) -> tuple[Actor, Actor, int]:
    """Queue Bob and Cal; return (interviewer, candidate, room id) as seen in the room."""
    first = await service.join(BOB)
    assert first.position == 1 and first.room is None
    second = await service.join(CAL)
    assert second.room is not None
    room_id = second.room.room_id
    channel = f"mock-{room_id}"
    by_name = {"Bob": in_room(BOB, channel), "Cal": in_room(CAL, channel)}
    return by_name[second.room.interviewer], by_name[second.room.candidate], room_id


async def run_clock(service: MockService, clock: FakeClock, minutes: float, step_s: float = 15):
    """Advance the clock in steps, running the timer at each."""
    sent: list[tuple[str, float]] = []
    end = clock.now() + timedelta(minutes=minutes)
    while clock.now() < end:
        clock.advance(step_s)
        report = await service.announce_due()
        sent += [(key, (when - T0).total_seconds() / 60) for _, key, when in report.sent]
    return sent


async def test_full_mock_each_announcement_once_in_order(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, candidate, room_id = await paired(service)
    assert publisher.dms and "Interviewer brief" in (publisher.dms[0][1].header or "")
    await service.start(interviewer)
    sent = [("phase:clarify", 0.0)] if (await service.announce_due()).sent else []
    sent += await run_clock(service, clock, 50)
    keys = [k for k, _ in sent]
    assert keys == [
        "phase:clarify",
        "warning:high-level-design",
        "phase:high-level-design",
        "warning:deep-dive",
        "phase:deep-dive",
        "warning:scale-reliability",
        "phase:scale-reliability",
        "warning:wrap-up",
        "phase:wrap-up",
        "warning:end",
        "end",
    ]
    minutes = dict(sent)
    assert minutes["phase:deep-dive"] == 15 and minutes["end"] == 45
    # Phases came as new messages, warnings only as edits of the one status message.
    new_messages = [m for _, m in publisher.posts if "status" not in (m.header or "")]
    assert sum("begins now" in m.text for m in new_messages) == 5
    assert not any("One minute left" in m.text for m in new_messages)
    assert any("One minute left" in m.text for _, m in publisher.edits)
    async with db.sessions() as s:
        room = await repo.get_room(s, room_id=room_id)
    assert room is not None and room.status == "scoring"
    with pytest.raises(Conflict):
        await service.start(interviewer)


async def test_pause_and_resume_move_later_boundaries(
    service: MockService, clock: FakeClock
) -> None:
    interviewer, _, _ = await paired(service)
    await service.start(interviewer)
    sent = await run_clock(service, clock, 10)
    await service.pause(interviewer)
    with pytest.raises(Conflict):
        await service.pause(interviewer)
    sent += await run_clock(service, clock, 3)
    await service.resume(interviewer)
    sent += await run_clock(service, clock, 40)
    minutes = dict(sent)
    assert minutes["phase:high-level-design"] == 5
    assert minutes["warning:deep-dive"] == 17 and minutes["phase:deep-dive"] == 18
    assert minutes["end"] == 48


async def test_extend_lengthens_the_phase(service: MockService, clock: FakeClock) -> None:
    interviewer, _, _ = await paired(service)
    await service.start(interviewer)
    sent = await run_clock(service, clock, 20)
    view = await service.extend(interviewer, "5")
    assert view.phase == "Deep Dive" and view.phase_left_min == pytest.approx(15)
    sent += await run_clock(service, clock, 40)
    minutes = dict(sent)
    assert minutes["phase:scale-reliability"] == 35 and minutes["end"] == 50


async def test_restart_in_phase_three_recovers_once(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, _, room_id = await paired(service)
    await service.start(interviewer)
    await run_clock(service, clock, 12)  # the first process dies at minute 12
    clock.advance(minutes=7)  # down until minute 19: Deep dive began 4 minutes ago
    second = make_service(db, clock, publisher, "bot-2")
    before = len(publisher.posts)
    report = await second.announce_due()
    assert [k for _, k, _ in report.sent] == ["phase:deep-dive"]
    assert [k for _, k in report.dropped] == ["warning:deep-dive"]
    recovery = [m for _, m in publisher.posts[before:] if "began" in m.text]
    assert len(recovery) == 1 and "Deep Dive** began 4 minutes ago" in recovery[0].text
    assert (await second.announce_due()).sent == []
    view = await second.status_of(interviewer)
    assert view.room is not None and view.room.phase_left_min == pytest.approx(11)
    rest = await run_clock(second, clock, 30)
    assert [k for k, _ in rest].count("phase:scale-reliability") == 1
    async with db.sessions() as s:
        made = await repo.announcements(s, room_id=room_id)
    keys = [a.key for a in made]
    assert len(keys) == len(set(keys))


async def test_two_processes_racing_announce_each_boundary_once(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, _, room_id = await paired(service)
    other = make_service(db, clock, publisher, "bot-2")
    await service.start(interviewer)
    end = clock.now() + timedelta(minutes=46)
    while clock.now() < end:
        clock.advance(30)
        await asyncio.gather(service.announce_due(), other.announce_due())
    async with db.sessions() as s:
        made = [a for a in await repo.announcements(s, room_id=room_id) if a.status == "sent"]
    assert len(made) == 11 and len({a.key for a in made}) == 11
    phase_posts = [
        m for _, m in publisher.posts if "begins now" in m.text and "status" not in (m.header or "")
    ]
    assert len(phase_posts) == 5
    assert sum("status" in (m.header or "") for _, m in publisher.posts) == 1


async def test_scorecard_points_and_history(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, candidate, room_id = await paired(service)
    await service.start(interviewer)
    await run_clock(service, clock, 46, step_s=60)
    aspects, _, reds, greens = service.scorecard_form()
    ratings = dict.fromkeys(aspects, "good")
    with pytest.raises(NotAllowed):
        await service.submit_scorecard(candidate, ratings=ratings, flags=[], comment="")
    with pytest.raises(InvalidInput, match="missing: Requirements"):
        await service.submit_scorecard(
            interviewer,
            ratings={k: v for k, v in ratings.items() if k != "Requirements"},
            flags=[],
            comment="",
        )
    with pytest.raises(InvalidInput, match="not one of the guide's"):
        await service.submit_scorecard(interviewer, ratings=ratings, flags=["Juggles"], comment="")
    await service.self_rate(candidate, "great")
    await service.submit_scorecard(
        interviewer, ratings=ratings, flags=[greens[0], reds[0]], comment="Solid."
    )
    assert any(m.header == "Your mock scorecard" for _, m in publisher.dms)
    with pytest.raises(Conflict):
        await service.submit_scorecard(interviewer, ratings=ratings, flags=[], comment="")
    history = await service.history(BOB)
    assert len(history) == 1 and history[0].scorecard == "7 good"
    from sqlmodel import select

    from bot.store.models import PointsEvent

    async with db.sessions() as s:
        events = (await s.execute(select(PointsEvent))).scalars().all()
    assert sorted(e.ref for e in events) == [
        f"mock:{room_id}:candidate",
        f"mock:{room_id}:interviewer",
        f"mock:{room_id}:scorecard",
    ]
    swapped = await service.swap(interviewer)
    assert swapped.interviewer == candidate.display_name and swapped.round == 2


@pytest.mark.parametrize("bad", ["0", "-5", "999", "abc"])
async def test_bad_extensions_change_nothing(db: Any, service: MockService, bad: str) -> None:
    interviewer, _, room_id = await paired(service)
    await service.start(interviewer)
    with pytest.raises(InvalidInput):
        await service.extend(interviewer, bad)
    async with db.sessions() as s:
        room = await repo.get_room(s, room_id=room_id)
    assert room is not None and room.extensions == []


async def test_bad_commands_get_one_sentence_and_change_nothing(
    service: MockService, db: Any
) -> None:
    with pytest.raises(NotFound, match="not a mock room"):
        await service.start(BOB)
    await service.join(BOB)
    with pytest.raises(Conflict, match="queued already"):
        await service.join(BOB)
    interviewer, _, room_id = await paired_after_bob(service)
    with pytest.raises(Conflict, match="in a mock room already"):
        await service.join(BOB)
    stranger = Actor("console", "local", f"mock-{room_id}", "U-ada", "Ada")
    with pytest.raises(NotAllowed, match="Only the two members"):
        await service.start(stranger)
    await service.start(interviewer)
    with pytest.raises(Conflict, match="running already"):
        await service.start(interviewer)
    for error in (NotFound, NotAllowed, Conflict, InvalidInput):
        assert issubclass(error, StudyBotError)


async def paired_after_bob(service: MockService) -> tuple[Actor, Actor, int]:
    view = await service.join(CAL)
    assert view.room is not None
    channel = f"mock-{view.room.room_id}"
    by_name = {"Bob": in_room(BOB, channel), "Cal": in_room(CAL, channel)}
    return by_name[view.room.interviewer], by_name[view.room.candidate], view.room.room_id


async def test_leave_while_matched_and_no_show(service: MockService, clock: FakeClock) -> None:
    await paired(service)
    assert await service.leave(BOB) == (
        "You left the mock; your partner is back at the front of the queue."
    )
    view = await service.status_of(CAL)
    assert view.position == 1
    joined = await service.join(BOB)  # matched again with Cal; joining confirms Bob
    assert joined.room is not None
    clock.advance(minutes=9)
    assert await service.close_stale() == []
    clock.advance(minutes=2)  # Cal never confirmed within 10 minutes
    assert len(await service.close_stale()) == 1
    assert (await service.status_of(BOB)).position == 1
    assert (await service.status_of(CAL)).position is None


async def test_book_shows_the_slot_in_each_members_zone(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    cohorts = CohortService(db.sessions, clock)
    await cohorts.set_member_timezone(BOB, "Europe/Berlin")
    await cohorts.set_member_timezone(CAL, "America/New_York")
    with pytest.raises(InvalidInput, match="YYYY-MM-DD HH:MM"):
        await service.book(BOB, "tomorrow at six")
    with pytest.raises(InvalidInput, match="in the future"):
        await service.book(BOB, "2026-12-01 10:00")
    first = await service.book(BOB, "2026-12-05 18:00")
    assert first.position == 1 and first.slot == "Sat 05 Dec 18:00 (Europe/Berlin)"
    await service.join(CAL)  # queued now, not for the slot: no pair
    assert (await service.status_of(CAL)).position == 1
    await service.leave(CAL)
    second = await service.book(CAL, "2026-12-05 12:00")  # the same instant, New York time
    assert second.room is not None
    intro = next(m for _, m in publisher.posts if m.header == "Mock interview")
    booked = next(f.value for f in intro.fields if f.name == "Booked for")
    assert "Bob: Sat 05 Dec 18:00 (Europe/Berlin)" in booked
    assert "Cal: Sat 05 Dec 12:00 (America/New_York)" in booked


async def test_a_long_wait_keeps_the_place(service: MockService, clock: FakeClock) -> None:
    await service.join(BOB)
    clock.advance(minutes=20)
    view = await service.status_of(BOB)
    assert view.position == 1 and view.long_wait and view.waited_min == pytest.approx(20)


async def test_an_untouched_room_is_closed(service: MockService, clock: FakeClock) -> None:
    interviewer, _, room_id = await paired(service)
    await service.start(interviewer)
    await service.pause(interviewer)
    clock.advance(hours=1)
    assert await service.close_stale() == []
    clock.advance(hours=1, minutes=1)
    assert await service.close_stale() == [room_id]
    assert (await service.status_of(BOB)).room is None


async def test_a_pair_gets_a_scenario_neither_has_had(
    db: Any, service: MockService, clock: FakeClock
) -> None:
    seen: list[str | None] = []
    for _ in range(3):
        interviewer, candidate, room_id = await paired(service)
        await service.start(interviewer)
        await service.end(interviewer)
        async with db.sessions() as s:
            room = await repo.get_room(s, room_id=room_id)
            assert room is not None
            seen.append(room.scenario_id)
            await repo.update_room(s, room_id=room_id, status="closed")
            await s.commit()
    assert seen[0] == "guide:ml-serving"
    assert len(set(seen)) == 3  # repeats are allowed partners, never repeated scenarios


def test_a_bank_scenario_brief_marks_what_comes_from_the_guide() -> None:
    from bot.services.mocks import compose_brief, scenarios_from

    library = load_library()
    scenarios = scenarios_from(library)
    guide, bank = scenarios[0], next(s for s in scenarios if s.id.startswith("E11-"))
    full = {f.name: f.value for f in compose_brief(library, guide).fields}
    assert "Key numbers" in full and "Expect:" in full["Clarifying questions"]
    assert any(name.startswith("Deep dive") for name in full)
    partial = {f.name: f.value for f in compose_brief(library, bank).fields}
    assert partial["Scenario"] == bank.text
    assert partial["Rubric points"].count("•") == len(bank.rubric)
    assert "Key numbers" not in partial
    assert "Red flags (from the guide)" in partial
    generic_traps = partial["Trap questions (from the guide)"]
    assert "microservices" not in generic_traps and "retrain" in generic_traps
    assert any(s.id.startswith("D") for s in scenarios)  # the day plans' design prompts


async def test_a_boundary_soon_after_a_late_one_is_a_new_message_too(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, _, _ = await paired(service)
    await service.start(interviewer)
    await run_clock(service, clock, 4)  # then down from minute 4 to 14:40
    clock.advance(minutes=10, seconds=40)
    before = len(publisher.posts)
    recovered = await service.announce_due()
    assert [k for _, k, _ in recovered.sent] == ["phase:high-level-design", "warning:deep-dive"]
    clock.advance(20)  # 15:00, twenty seconds after that message
    assert [k for _, k, _ in (await service.announce_due()).sent] == ["phase:deep-dive"]
    # Each boundary notifies the room: an edit of the status message further up would not.
    new = [m for _, m in publisher.posts[before:] if "status" not in (m.header or "")]
    assert len(new) == 2
    assert "High-Level Design** began 9 minutes ago" in new[0].text
    assert "One minute left in High-Level Design" in new[0].text
    assert "**Deep Dive** begins now" in new[1].text and "High-Level" not in new[1].text
    assert "**Deep Dive** begins now" in publisher.edits[-1][1].text  # the status says it too


class RecordingHost:
    """A room host that remembers the rooms it opened and closed."""

    def __init__(self) -> None:
        self.opened: list[RoomRequest] = []
        self.closed: list[OpenedRoom] = []

    async def open_room(self, request: RoomRequest) -> OpenedRoom:
        self.opened.append(request)
        return OpenedRoom(f"thread-{len(self.opened)}", f"voice-{len(self.opened)}")

    async def close_room(self, room: OpenedRoom) -> None:
        self.closed.append(room)


async def test_the_face_opens_the_private_room_and_closes_it(
    service: MockService, publisher: RecordingPublisher
) -> None:
    host = RecordingHost()
    service.add_room_host("console", host)
    await service.join(BOB)
    view = await service.join(CAL)
    assert view.room is not None
    [request] = host.opened
    assert set(request.user_ids) == {"U-bob", "U-cal"} and request.cohort_channel_id == "C1"
    assert publisher.posts[0][0] == "thread-1"  # the introduction went into the private room
    assert "voice channel" in publisher.posts[0][1].text
    await service.leave(BOB)
    assert host.closed == [OpenedRoom("thread-1", "voice-1")]


async def test_the_timer_moves_next_due_by_compare_and_set(
    db: Any, service: MockService, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    results: list[bool] = []
    real = repo.move_rooms_if_unchanged

    async def spy(session: Any, *, moves: Any) -> set[int]:
        moved = await real(session, moves=moves)
        results.extend(m.room_id in moved for m in moves)
        return moved

    monkeypatch.setattr(repo, "move_rooms_if_unchanged", spy)
    interviewer, _, _ = await paired(service)
    await service.start(interviewer)
    await run_clock(service, clock, 20)
    assert results and all(results)  # nothing else touched the room: every write held
    results.clear()
    clock.advance(minutes=9)  # the warning at 29 is due and claimed ...
    report = TimerReport()
    claimed = await service.claim_due(report)
    [c] = claimed.rooms
    await service.pause(interviewer)  # ... and the member pauses before the timer writes
    await service.say_and_record(claimed.rooms, report, asyncio.Semaphore(1))
    assert [k for _, k, _ in report.sent] == ["warning:scale-reliability"]
    assert results == [False]  # the pause's own next_due_at stands, not the timer's 30:00
    async with db.sessions() as s:
        fresh = await repo.get_room(s, room_id=c.room.id or 0)
    assert fresh is not None and fresh.status == "paused"
    assert fresh.next_due_at == clock.now()


async def test_extending_after_the_warning_warns_once_more(
    service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    interviewer, _, _ = await paired(service)
    await service.start(interviewer)
    sent = await run_clock(service, clock, 14.5)
    assert "warning:deep-dive" in dict(sent)
    await service.extend(interviewer, "3")
    sent += await run_clock(service, clock, 25)
    warnings = [k for k, _ in sent if k.startswith("warning:deep-dive")]
    assert warnings == ["warning:deep-dive", "warning:deep-dive+3"]
    assert dict(sent)["warning:deep-dive+3"] == 17 and dict(sent)["phase:deep-dive"] == 18
    said = [m.text for _, m in publisher.posts + publisher.edits]
    assert sum("One minute left in High-Level Design" in t for t in said) >= 2
