"""A mock timer claim taken over after the platform took its post: never said twice.

A holder killed (or paused past its lease) after the platform stored a room's post and before
it recorded it leaves its claims to a successor. The successor looks for what was posted
(whatever grouping of the due announcements the first holder used) and says only the rest,
and a holder paused between its fence check and a send sends nothing once taken over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy
from bot.messages import Channel, Message, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.mocks import MockService, TimerReport
from bot.store import mocks as repo
from content import load_library

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADMIN = Actor("console", "local", "C1", "U-ada", "Ada", is_workspace_admin=True)
PAIRS = 3
LEASE_S = 30


class Died(BaseException):
    """The process was killed: nothing after this point of it runs."""


class KeyedPublisher:
    """A platform that keeps every post with its key and finds it again by that key."""

    platform = "console"

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, Message]] = []  # channel, key, message
        self.edits: list[tuple[str, str]] = []  # channel, message id
        self.withdrawn: set[str] = set()  # message ids
        self.looked: list[str] = []
        self.die_after: Callable[[str], bool] = lambda key: False
        # Runs once the platform stored a post and before the sender hears back (a pause).
        self.after_stored: Callable[[str], Awaitable[None]] | None = None
        # Runs once before the platform stores a post (the request stalled on its way); the
        # hook may store it at a moment of its choosing with the function it is given.
        self.before_stored: Callable[[str, Callable[[], None]], Awaitable[None]] | None = None
        self.stall_when: Callable[[str], bool] = lambda key: True  # which post stalls
        # Runs once right after a look for this key found nothing (a key and what to run).
        self.on_look: tuple[str, Callable[[], None]] | None = None

    def _store(self, channel: Channel, key: str, message: Message) -> SentMessage:
        self.posts.append((channel.channel_id, key, message))
        return SentMessage(f"m{len(self.posts)}", channel.channel_id)

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        if self.before_stored is not None and self.stall_when(idempotency_key):
            stall, self.before_stored = self.before_stored, None
            stored: list[SentMessage] = []
            await stall(
                idempotency_key,
                lambda: stored.append(self._store(channel, idempotency_key, message)),
            )
            sent = stored[0] if stored else self._store(channel, idempotency_key, message)
        else:
            sent = self._store(channel, idempotency_key, message)
        if self.die_after(idempotency_key):
            raise Died(idempotency_key)
        if self.after_stored is not None:
            hook, self.after_stored = self.after_stored, None
            await hook(idempotency_key)
        return sent

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        self.looked.append(idempotency_key)
        found = None
        for n, (channel_id, key, _) in enumerate(self.posts, start=1):
            if (
                channel_id == channel.channel_id
                and key == idempotency_key
                and f"m{n}" not in self.withdrawn
            ):
                found = SentMessage(f"m{n}", channel_id)
                break
        if found is None and self.on_look is not None and self.on_look[0] == idempotency_key:
            _, then = self.on_look
            self.on_look = None
            then()
        return found

    async def withdraw(self, sent: SentMessage) -> None:
        self.withdrawn.add(sent.message_id)

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        return await self.post(channel, message, idempotency_key="")

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        return SentMessage("dm", user_id)

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        return None

    async def edit(self, sent: SentMessage, message: Message) -> None:
        self.edits.append((sent.channel_id, sent.message_id))

    def standing(self) -> list[tuple[str, str, Message]]:
        """Return the posts still in their channels (withdrawn ones aside)."""
        return [p for n, p in enumerate(self.posts, start=1) if f"m{n}" not in self.withdrawn]

    def said(self, room_channel: str, phase_name: str) -> int:
        """Count the posts (the status message aside) that announce a phase in a room."""
        return sum(
            1
            for channel_id, key, message in self.standing()
            if channel_id == room_channel
            and not key.endswith(":status")
            and f"**{phase_name}**" in message.text
        )

    def status_posts(self, room_channel: str) -> int:
        return sum(
            1
            for channel_id, key, _ in self.standing()
            if channel_id == room_channel and key.endswith(":status")
        )


def timer(db: Any, clock: FakeClock, publisher: KeyedPublisher, holder: str) -> MockService:
    service = MockService(
        db.sessions,
        load_library(),
        clock,
        {"console": publisher},
        holder=holder,
        policy=ClaimPolicy(lease_s=LEASE_S),
    )
    service.rooms_in_flight = 1  # one room at a time: the order of events is the test's own
    return service


async def started_rooms(db: Any, clock: FakeClock) -> dict[int, str]:
    """Pair PAIRS couples and start every room at T0; return each room's channel.

    The members' commands run where no face posts, so the timer posts each status message.
    """
    members = MockService(db.sessions, load_library(), clock, {}, holder="members")
    cohorts = CohortService(db.sessions, clock)
    await cohorts.setup(ADMIN)
    rooms: dict[int, str] = {}
    for n in range(PAIRS):
        views = []
        for who in ("a", "b"):
            actor = Actor("console", "local", "C1", f"U-{who}{n}", f"{who}{n}")
            await cohorts.join(actor)
            views.append(await members.join(actor))
        room = views[-1].room
        assert room is not None
        channel = f"mock-{room.room_id}"
        await members.start(Actor("console", "local", channel, f"U-{room.interviewer}", ""))
        async with db.sessions.begin() as s:  # the room's private channel (no room host here)
            await repo.update_room(s, room_id=room.room_id, channel_id=channel)
        rooms[room.room_id] = channel
    return rooms


async def say_then_die(service: MockService, publisher: KeyedPublisher) -> None:
    """Claim what is due and say it room by room; the process dies in each room's send."""
    claimed = await service.claim_due(TimerReport())
    assert claimed.rooms
    for room in claimed.rooms:
        with pytest.raises(Died):
            await service.say_and_record([room], TimerReport(), asyncio.Semaphore(1))
    publisher.die_after = lambda key: False  # the successor runs on


async def made(db: Any, room_id: int) -> list[tuple[str, str]]:
    async with db.sessions() as s:
        return [(a.key, a.holder or "") for a in await repo.announcements(s, room_id=room_id)]


def _phases() -> Any:
    from bot.domain.pacing import plan_phases

    return plan_phases(load_library().guide.phases)


async def test_a_successor_holding_the_same_boundary_sends_nothing_and_records_it(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    clarify = _phases()[0]
    publisher.die_after = lambda key: key.endswith(":phase:clarify")  # stored, then killed
    await say_then_die(timer(db, clock, publisher, "bot-1"), publisher)
    clock.advance(LEASE_S + 1)  # bot-1's leases ran out
    report = await timer(db, clock, publisher, "bot-2").announce_due()
    assert sorted(r for r, key, _ in report.sent if key == "phase:clarify") == sorted(rooms)
    for room_id, channel in rooms.items():
        assert publisher.said(channel, clarify.name) == 1  # bot-1's post, found: not again
        assert publisher.status_posts(channel) == 1  # bot-1 died before its status post
        assert await made(db, room_id) == [("phase:clarify", "bot-2")]


async def test_a_successor_grouping_the_due_boundaries_differently_says_only_the_rest(
    db: Any,
) -> None:
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    clarify, design = _phases()[0], _phases()[1]
    publisher.die_after = lambda key: key.endswith(":phase:clarify")
    await say_then_die(timer(db, clock, publisher, "bot-1"), publisher)  # Clarify alone
    clock.set(T0 + timedelta(minutes=design.start_min, seconds=1))
    report = await timer(db, clock, publisher, "bot-2").announce_due()  # Clarify and Design due
    for room_id, channel in rooms.items():
        assert {key for r, key, _ in report.sent if r == room_id} == {
            "phase:clarify",
            "phase:high-level-design",
        }
        assert publisher.said(channel, clarify.name) == 1
        assert publisher.said(channel, design.name) == 1
        assert {key for key, _ in await made(db, room_id)} >= {
            "phase:clarify",
            "phase:high-level-design",
        }


async def test_a_successor_holding_more_than_the_first_post_carried_sends_no_boundary_again(
    db: Any,
) -> None:
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    clarify, design, deep = _phases()[0], _phases()[1], _phases()[2]
    clock.set(T0 + timedelta(minutes=design.start_min, seconds=1))
    publisher.die_after = lambda key: ":phase:" in key  # one post for Clarify and Design
    await say_then_die(timer(db, clock, publisher, "bot-1"), publisher)
    boundary_posts = [p for p in publisher.posts if not p[1].endswith(":status")]
    assert len(boundary_posts) == PAIRS  # both boundaries in one post a room
    # Later, with Deep Dive's one-minute warning due too: bot-2 holds three announcements.
    clock.set(T0 + timedelta(minutes=deep.start_min - 1, seconds=1))
    assert clock.now() - (T0 + timedelta(minutes=design.start_min)) > timedelta(seconds=LEASE_S)
    report = await timer(db, clock, publisher, "bot-2").announce_due()
    assert [p for p in publisher.posts if not p[1].endswith(":status")] == boundary_posts
    for room_id, channel in rooms.items():
        assert {key for r, key, _ in report.sent if r == room_id} == {
            "phase:clarify",
            "phase:high-level-design",
            "warning:deep-dive",
        }
        assert publisher.said(channel, clarify.name) == 1
        assert publisher.said(channel, design.name) == 1
        recorded = dict(await made(db, room_id))
        assert recorded["warning:high-level-design"] == "bot-1"  # dropped by bot-1: passed
        assert [recorded[k] for k in ("phase:clarify", "phase:high-level-design")] == [
            "bot-2",
            "bot-2",
        ]


async def test_a_status_message_posted_and_not_recorded_is_found_and_edited(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    publisher.die_after = lambda key: key.endswith(":status")  # after the boundary's post
    await say_then_die(timer(db, clock, publisher, "bot-1"), publisher)
    posts = list(publisher.posts)
    clock.advance(LEASE_S + 1)
    await timer(db, clock, publisher, "bot-2").announce_due()
    assert publisher.posts == posts  # nothing posted again: the boundary nor the status
    async with db.sessions() as s:
        for room_id, channel in rooms.items():
            room = await repo.get_room(s, room_id=room_id)
            assert room is not None
            status_id = next(
                f"m{n}"
                for n, (c, key, _) in enumerate(posts, start=1)
                if c == channel and key.endswith(":status")
            )
            assert room.status_message_id == status_id
            assert (channel, status_id) in publisher.edits


async def test_a_holder_paused_after_a_send_is_fenced_before_its_next_send(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    third = timer(db, clock, publisher, "bot-3")
    third_report: list[TimerReport] = []

    async def paused(key: str) -> None:
        # bot-2's first post is stored, and bot-2 stops before hearing back: its leases run
        # out, bot-3 takes every room over and says (and records) them all.
        clock.advance(LEASE_S + 1)
        third_report.append(await third.announce_due())

    publisher.after_stored = paused
    report = await timer(db, clock, publisher, "bot-2").announce_due()
    assert report.sent == [] and report.lost == PAIRS  # bot-2 sent nothing after its pause
    assert sorted(r for r, _, _ in third_report[0].sent) == sorted(rooms)
    clarify = _phases()[0]
    for room_id, channel in rooms.items():
        assert publisher.said(channel, clarify.name) == 1
        assert publisher.status_posts(channel) == 1
        assert await made(db, room_id) == [("phase:clarify", "bot-3")]


@pytest.mark.parametrize("stored", ["after the taker's post", "between the taker's look and post"])
@pytest.mark.parametrize("which", ["announcement", "status"])
async def test_a_post_stalled_on_its_way_past_a_takeover_leaves_one_copy(
    db: Any, stored: str, which: str
) -> None:
    # bot-2's first post (or first status message) stalls on its way to the platform; bot-3
    # takes every room over, looks (nothing is there yet) and says them all; bot-2's post
    # lands after bot-3's look.
    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    third = timer(db, clock, publisher, "bot-3")
    publisher.stall_when = lambda key: key.endswith(":status") == (which == "status")

    async def stalled(key: str, store: Callable[[], None]) -> None:
        clock.advance(LEASE_S + 1)
        if stored.startswith("between"):
            publisher.on_look = (key, store)
        await third.announce_due()

    publisher.before_stored = stalled
    report = await timer(db, clock, publisher, "bot-2").announce_due()
    assert report.sent == [] and report.lost == PAIRS  # bot-2 recorded nothing after its stall
    assert len(publisher.withdrawn) == 1  # the later of the two copies
    if which == "status":  # the status message that stands is the one the room records
        first_room = min(rooms)
        async with db.sessions() as s:
            room = await repo.get_room(s, room_id=first_room)
        assert room is not None and room.status_message_id not in publisher.withdrawn
    clarify = _phases()[0]
    for room_id, channel in rooms.items():
        assert publisher.said(channel, clarify.name) == 1
        assert publisher.status_posts(channel) == 1
        assert await made(db, room_id) == [("phase:clarify", "bot-3")]


async def test_a_holder_whose_fence_checks_all_stall_sends_nothing_and_a_successor_says_it(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store import claims

    clock = FakeClock(T0)
    publisher = KeyedPublisher()
    rooms = await started_rooms(db, clock)
    window = ClaimPolicy(lease_s=LEASE_S).send_window.total_seconds()
    fence = claims.fence

    async def stalled(*args: Any, **kwargs: Any) -> None:
        clock.advance(window + 1)  # every check ends outside the window it should open
        await fence(*args, **kwargs)

    monkeypatch.setattr(claims, "fence", stalled)
    first = await timer(db, clock, publisher, "bot-2").announce_due()  # ends: no endless look
    # The first room's sends start inside the window its claim opened; its record's check
    # stalls, and no check after it covers a send: the other rooms send nothing.
    assert [r for r, _, _ in first.sent] == [min(rooms)] and first.lost == PAIRS - 1
    assert {channel for channel, _, _ in publisher.posts} == {rooms[min(rooms)]}
    monkeypatch.setattr(claims, "fence", fence)
    async with db.sessions() as s:  # bot-2 gave those rooms' claims back: taken at once
        for room_id in sorted(rooms)[1:]:
            claim = await claims.get_claim(s, key=f"mock:{room_id}:phase:clarify")
            assert claim is not None and claim.status == "released"
            assert "took longer than the send window" in (claim.last_error or "")
    second = await timer(db, clock, publisher, "bot-3").announce_due()
    assert sorted(r for r, _, _ in second.sent) == sorted(rooms)[1:]
    clarify = _phases()[0]
    for room_id, channel in rooms.items():
        assert publisher.said(channel, clarify.name) == 1
        assert publisher.status_posts(channel) == 1
        holder = "bot-2" if room_id == min(rooms) else "bot-3"
        assert await made(db, room_id) == [("phase:clarify", holder)]


@pytest.fixture(autouse=True)
def _quiet_library() -> None:
    load_library()  # loaded once, before any clock starts
