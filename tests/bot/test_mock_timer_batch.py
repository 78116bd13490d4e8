"""The mock timer over many rooms at once: one claim, one record, each announcement once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy, ClaimStatus
from bot.messages import Channel, Message, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.mocks import MockService, TimerReport
from bot.store import claims as claims_repo
from bot.store import mocks as repo
from bot.store.models import MockAnnouncement, MockTurn
from content import load_library

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADMIN = Actor("console", "local", "C1", "U-ada", "Ada", is_workspace_admin=True)
PAIRS = 6


class CountingPublisher:
    """A publisher that counts the phase posts each room got."""

    platform = "console"

    def __init__(self) -> None:
        self.posts: list[tuple[str, Message]] = []
        self.edits = 0

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        self.posts.append((channel.channel_id, message))
        return SentMessage(f"m{len(self.posts)}", channel.channel_id)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        return None

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        return await self.post(channel, message, idempotency_key="")

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        return SentMessage("dm", user_id)

    async def edit(self, sent: SentMessage, message: Message) -> None:
        self.edits += 1


def make_service(db: Any, clock: FakeClock, publisher: CountingPublisher, holder: str) -> Any:
    return MockService(
        db.sessions,
        load_library(),
        clock,
        {"console": publisher},
        holder=holder,
        policy=ClaimPolicy(lease_s=30),
    )


async def started_rooms(db: Any, clock: FakeClock, service: MockService) -> list[int]:
    """Pair PAIRS couples and start every room at the same minute."""
    cohorts = CohortService(db.sessions, clock)
    await cohorts.setup(ADMIN)
    rooms: list[int] = []
    for n in range(PAIRS):
        views = []
        for who in ("a", "b"):
            actor = Actor("console", "local", "C1", f"U-{who}{n}", f"{who}{n}")
            await cohorts.join(actor)
            views.append(await service.join(actor))
        room = views[-1].room
        assert room is not None
        interviewer = Actor(
            "console", "local", f"mock-{room.room_id}", f"U-{room.interviewer}", room.interviewer
        )
        rooms.append(room.room_id)
        await service.start(interviewer)
    return rooms


def count_commits(db: Any) -> list[int]:
    commits = [0]

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(db.engine.sync_engine, "commit", on_commit)
    return commits


async def test_one_pass_claims_every_room_in_one_step_and_records_in_another(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = CountingPublisher()
    service = make_service(db, clock, publisher, "bot-1")
    rooms = await started_rooms(db, clock, service)
    await service.announce_due()  # Clarify begins in every room (status messages are posted)
    clock.advance(minutes=4)  # every room's warning for High-Level Design is due
    commits = count_commits(db)
    report = await service.announce_due()
    assert sorted(room for room, _, _ in report.sent) == sorted(rooms)
    assert {key for _, key, _ in report.sent} == {"warning:high-level-design"}
    assert commits[0] == 2  # one claim, one record: not two a room
    async with db.sessions() as s:
        for room_id in rooms:
            room = await repo.get_room(s, room_id=room_id)
            assert room is not None and room.next_due_at == T0 + timedelta(minutes=5)


async def test_a_crash_between_claim_and_send_is_said_once_by_the_next_holder(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = CountingPublisher()
    first = make_service(db, clock, publisher, "bot-1")
    rooms = await started_rooms(db, clock, first)
    publisher.posts.clear()  # the rooms' introductions
    claimed = await first.claim_due(TimerReport())  # bot-1 claims Clarify everywhere, then dies
    assert len(claimed.rooms) == PAIRS
    second = make_service(db, clock, publisher, "bot-2")
    assert (await second.announce_due()).sent == []  # bot-1's claims hold: nothing twice
    assert publisher.posts == []
    clock.advance(31)  # bot-1's leases ran out
    report = await second.announce_due()
    assert sorted(room for room, key, _ in report.sent if key == "phase:clarify") == sorted(rooms)
    # bot-1 wakes up and says what it had claimed: the claims are no longer its own.
    late = TimerReport()
    await first.say_and_record(claimed.rooms, late, asyncio.Semaphore(4))
    assert late.sent == []
    async with db.sessions() as s:
        for room_id in rooms:
            made = await repo.announcements(s, room_id=room_id)
            assert [(a.key, a.holder) for a in made] == [("phase:clarify", "bot-2")]
    clarify_posts = [m for _, m in publisher.posts if "Clarify** b" in m.text]
    assert len(clarify_posts) == PAIRS  # once a room, by bot-2; bot-1 sent nothing


async def test_a_boundary_right_after_a_late_post_gets_its_own_message(db: Any) -> None:
    clock = FakeClock(T0)
    publisher = CountingPublisher()
    first = make_service(db, clock, publisher, "bot-1")
    rooms = await started_rooms(db, clock, first)
    publisher.posts.clear()
    await first.claim_due(TimerReport())  # bot-1 claims Clarify everywhere, then dies
    second = make_service(db, clock, publisher, "bot-2")
    clock.advance(minutes=4, seconds=40)  # bot-1's leases ran out long ago
    report = await second.announce_due()  # Clarify, late, with the warning before HLD
    assert {key for _, key, _ in report.sent} == {"phase:clarify", "warning:high-level-design"}
    clock.advance(seconds=20)  # High-Level Design begins 20 s after the late post
    report = await second.announce_due()
    assert sorted(room for room, key, _ in report.sent if key == "phase:high-level-design") == (
        sorted(rooms)
    )
    # A new message in each room, not only an edit of its status message further up.
    begins = [m for _, m in publisher.posts if "**High-Level Design** begins now" in m.text]
    assert len(begins) == PAIRS


async def test_claims_are_taken_in_one_batch_and_finished_fenced(db: Any) -> None:
    policy = ClaimPolicy(lease_s=30)
    async with db.sessions.begin() as s:
        held = await claims_repo.acquire_claim(s, key="k2", holder="other", now=T0, policy=policy)
        assert held is not None
        given = await claims_repo.acquire_claim(s, key="k3", holder="other", now=T0, policy=policy)
        assert given is not None
        await claims_repo.release_claim(s, token=given, now=T0)
    async with db.sessions.begin() as s:
        tokens = await claims_repo.acquire_claims(
            s, keys=["k3", "k1", "k2", "k1"], holder="me", now=T0, policy=policy
        )
    assert sorted(tokens) == ["k1", "k3"]  # k2 is held by a live lease
    assert tokens["k1"].epoch == 1 and tokens["k3"].epoch == 2
    async with db.sessions.begin() as s:
        await claims_repo.acquire_claims(
            s, keys=["k1"], holder="thief", now=T0 + timedelta(seconds=31), policy=policy
        )
        done = await claims_repo.finish_claims(s, tokens=list(tokens.values()), now=T0)
    assert done == {tokens["k3"].claim_id}  # k1 was taken over: finishing it is refused
    async with db.sessions() as s:
        k3 = await claims_repo.get_claim(s, key="k3")
    assert k3 is not None and k3.status == ClaimStatus.FINISHED.value


async def test_insert_once_inserts_each_key_once(db: Any) -> None:
    clock = FakeClock(T0)
    service = make_service(db, clock, CountingPublisher(), "bot-1")
    rooms = await started_rooms(db, clock, service)

    def said(room_id: int, key: str) -> MockAnnouncement:
        return MockAnnouncement(
            room_id=room_id, key=key, kind="phase", phase="clarify", due_at=T0, sent_at=T0
        )

    async with db.sessions.begin() as s:
        first = await repo.record_announcements(
            s, announcements=[said(rooms[0], "a"), said(rooms[1], "a")]
        )
        again = await repo.record_announcements(
            s, announcements=[said(rooms[0], "a"), said(rooms[0], "b")]
        )
        turn = MockTurn(
            room_id=rooms[0], key="t", speaker="interviewer", phase="clarify", minute=0.0, text="Hi"
        )
        assert await repo.add_turn(s, turn=turn) is True
        assert await repo.add_turn(s, turn=turn) is False
    assert first == {(rooms[0], "a"), (rooms[1], "a")}
    assert again == {(rooms[0], "b")}
    async with db.sessions() as s:
        assert [a.key for a in await repo.announcements(s, room_id=rooms[0])] == ["a", "b"]


async def test_rooms_move_together_but_a_changed_room_keeps_its_own_state(db: Any) -> None:
    clock = FakeClock(T0)
    service = make_service(db, clock, CountingPublisher(), "bot-1")
    rooms = await started_rooms(db, clock, service)
    later = T0 + timedelta(minutes=4)
    async with db.sessions.begin() as s:
        await repo.update_room(s, room_id=rooms[1], next_due_at=T0 + timedelta(seconds=1))
        moved = await repo.move_rooms_if_unchanged(
            s,
            moves=[
                repo.RoomMove(rooms[0], T0, later, T0),
                repo.RoomMove(rooms[1], T0, later),  # read before its own change: not moved
                repo.RoomMove(rooms[2], T0, None),
            ],
        )
    assert moved == {rooms[0], rooms[2]}
    async with db.sessions() as s:
        got = [await repo.get_room(s, room_id=r) for r in rooms[:3]]
    assert [r.next_due_at for r in got if r is not None] == [
        later,
        T0 + timedelta(seconds=1),
        None,
    ]
    assert got[0] is not None and got[0].last_new_message_at == T0
    assert got[2] is not None and got[2].last_new_message_at is None


@pytest.fixture(autouse=True)
def _quiet_library() -> None:
    load_library()  # loaded once, before any clock starts
