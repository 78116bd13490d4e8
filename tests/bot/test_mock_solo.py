"""Solo mocks end to end on an injected clock: StudyBot interviews, on both engines.

The LLM engine talks to the local scripted OpenAI-compatible server; the scripted engine needs
nothing. Whole mocks run in well under a second of clock-driving per mock.
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.clock import FakeClock
from bot.errors import Conflict, InvalidInput, NotFound
from bot.mock_commands import queue_reply
from bot.mock_demo import SOLO_CANDIDATE
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.mocks import MockService
from bot.services.solo_mocks import SoloMocks
from bot.store import mocks as repo
from bot.store.models import MockTurn
from graders.embeddings import default_embedder
from graders.interviewer import (
    FALLBACK_NOTE,
    GuardedInterviewer,
    LLMInterviewer,
    ScriptedInterviewer,
)
from graders.llm import LLMConfig
from tests.bot.test_mock_service import (
    ADMIN,
    BOB,
    CAL,
    T0,
    RecordingHost,
    RecordingPublisher,
    in_room,
    make_service,
)
from tests.graders.test_interviewer import faithful_model
from tests.support.openai_server import OpenAIServer, Reply, openai_server_factory  # noqa: F401

EMBEDDER = default_embedder()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def mocks(db: Any, clock: FakeClock, publisher: RecordingPublisher) -> MockService:
    cohorts = CohortService(db.sessions, clock)
    await cohorts.setup(ADMIN)
    for actor in (BOB, CAL):
        await cohorts.join(actor)
    return make_service(db, clock, publisher, "bot-1")


def solo_on(mocks: MockService, server: OpenAIServer | None = None, **kw: Any) -> SoloMocks:
    llm = None
    if server is not None:
        llm = LLMInterviewer(LLMConfig(base_url=server.base_url, model="m", timeout_s=5))
    engine = GuardedInterviewer(ScriptedInterviewer(EMBEDDER), EMBEDDER, llm=llm)
    return SoloMocks(mocks, engine, EMBEDDER, **kw)


async def drive(
    mocks: MockService,
    solo: SoloMocks,
    clock: FakeClock,
    actor: Actor,
    until: float,
    lines: list[tuple[float, str]],
) -> None:
    """Run the timer every 15 s of the fast clock; the candidate speaks on their minute.

    The mocks here start at T0, so the minute since T0 is the interview minute.
    """
    while (minute := (clock.now() - T0).total_seconds() / 60) <= until:
        await mocks.announce_due()
        while lines and lines[0][0] <= minute:
            await solo.say(actor, lines.pop(0)[1])
        clock.advance(15)


async def turns_of(db: Any, room_id: int) -> list[MockTurn]:
    async with db.sessions() as s:
        return list(await repo.turns(s, room_id=room_id))


async def test_a_whole_scripted_solo_mock(
    db: Any, mocks: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    solo = solo_on(mocks)
    view = await solo.start(BOB)
    assert view.interviewer == "StudyBot" and view.candidate == "Bob"
    actor = in_room(BOB, f"mock-{view.room_id}")
    await drive(mocks, solo, clock, actor, 46, list(SOLO_CANDIDATE))
    turns = await turns_of(db, view.room_id)
    prompts = [t.key for t in turns if t.key.startswith("p:")]
    assert prompts == [
        "p:clarify",
        "p:high-level-design",
        "p:deep-dive",
        "p:scale-reliability",
        "p:wrap-up",
    ]
    said = [t for t in turns if t.speaker == "candidate"]
    assert len(said) == len(SOLO_CANDIDATE)
    assert {t.key.replace("c:", "r:") for t in said} <= {t.key for t in turns}
    assert {t.phase for t in said} >= {"clarify", "deep-dive", "wrap-up"}
    intents = {t.intent for t in turns}
    assert {"clarify-answer", "pushback", "trap", "deliverables"} <= intents
    async with db.sessions() as s:
        room = await repo.get_room(s, room_id=view.room_id)
    assert room is not None and room.status == "closed"
    card = room.scorecard["solo"]
    assert len(card["aspects"]) == 7 and len(card["practise"]) == 2
    assert all(a["rating"] in ("no hire", "hire", "strong hire") for a in card["aspects"])
    [(user, dm)] = [(u, m) for u, m in publisher.dms if m.header == "Your solo mock scorecard"]
    assert user == "U-bob"
    [entry] = await mocks.history(BOB)
    assert entry.partner == "StudyBot (solo)" and entry.role == "candidate"
    assert entry.scorecard != "not scored"
    # The phase prompts went out with the timer's announcements, each once.
    spoken = [m.text for _, m in publisher.posts if "**StudyBot:**" in m.text]
    assert len(spoken) == 5
    assert (
        await solo.rate_interviewer(actor, "4", "Good pacing") == "Thanks: interviewer rated 4/5."
    )
    async with db.sessions() as s:
        room = await repo.get_room(s, room_id=view.room_id)
    assert room is not None and room.scorecard["interviewer_rating"]["stars"] == 4


async def test_a_whole_llm_solo_mock_with_an_outage_midway(
    db: Any,
    mocks: MockService,
    clock: FakeClock,
    openai_server_factory: Any,  # noqa: F811
) -> None:
    server = openai_server_factory()
    answered = {"n": 0}
    faithful = faithful_model()

    def flaky(request: Any) -> Reply:
        answered["n"] += 1
        return faithful(request) if answered["n"] <= 6 else Reply.server_error(503)

    server.respond_with(flaky)
    solo = solo_on(mocks, server)
    view = await solo.start(BOB, "guide:ml-serving")
    actor = in_room(BOB, f"mock-{view.room_id}")
    await drive(mocks, solo, clock, actor, 46, list(SOLO_CANDIDATE))
    turns = await turns_of(db, view.room_id)
    replies = [t for t in turns if t.key.startswith("r:")]
    assert [t.engine for t in replies[:6]] == ["llm"] * 6
    assert {t.engine for t in replies[6:]} == {"scripted"}
    assert [t.note for t in replies].count(FALLBACK_NOTE) == 1  # said once
    assert sum("not available" in t.text for t in turns) == 1
    assert len(server.chat_requests) == 7  # after the failure the model is not asked again
    assert len(replies) == len(SOLO_CANDIDATE)  # nothing lost
    async with db.sessions() as s:
        made = [a for a in await repo.announcements(s, room_id=view.room_id) if a.status == "sent"]
        room = await repo.get_room(s, room_id=view.room_id)
    assert len(made) == 11  # the timer never missed a beat
    assert room is not None and room.status == "closed" and "solo" in room.scorecard
    assert sum(t.tokens for t in turns) > 0


async def test_a_restart_mid_mock_resumes_the_conversation(
    db: Any,
    mocks: MockService,
    clock: FakeClock,
    publisher: RecordingPublisher,
    openai_server_factory: Any,  # noqa: F811
) -> None:
    server = openai_server_factory()
    server.respond_with(faithful_model())
    first = solo_on(mocks, server)
    view = await first.start(BOB, "guide:ml-serving")
    actor = in_room(BOB, f"mock-{view.room_id}")
    lines = list(SOLO_CANDIDATE)
    await drive(mocks, first, clock, actor, 3, lines)
    # The process dies after storing the candidate's next line, before the interviewer answers.
    async with db.sessions.begin() as s:
        await repo.add_turn(
            s,
            turn=MockTurn(
                room_id=view.room_id,
                key="c:4",
                speaker="candidate",
                phase="clarify",
                minute=3.5,
                text=lines.pop(0)[1],
            ),
        )
    clock.advance(minutes=2)
    second_mocks = make_service(db, clock, publisher, "bot-2")
    second = solo_on(second_mocks, server)
    assert await second.answer_pending() == [view.room_id]
    assert await second.answer_pending() == []  # answered once
    request = server.chat_requests[-1]
    history = [m["content"] for m in request.messages]
    assert "What type of models are we serving: LLMs, vision or tabular?" in history
    assert any("A/B testing" in h for h in history[-3:])
    await drive(second_mocks, second, clock, actor, 46, lines)
    turns = await turns_of(db, view.room_id)
    keys = [t.key for t in turns]
    assert len(keys) == len(set(keys))
    assert [k for k in keys if k.startswith("p:")][:2] == ["p:clarify", "p:high-level-design"]
    assert sum(1 for k in keys if k.startswith("c:")) == len(SOLO_CANDIDATE)
    assert all(f"r:{k[2:]}" in keys for k in keys if k.startswith("c:"))


async def test_bad_solo_input_changes_nothing(db: Any, mocks: MockService) -> None:
    solo = solo_on(mocks)
    with pytest.raises(InvalidInput, match="No mock scenario"):
        await solo.start(BOB, "no-such-scenario")
    with pytest.raises(NotFound):
        await solo.room_of(BOB)
    view = await solo.start(BOB)
    actor = in_room(BOB, f"mock-{view.room_id}")
    with pytest.raises(Conflict, match="already"):
        await solo.start(BOB)
    with pytest.raises(InvalidInput):
        await solo.say(actor, "   ")
    with pytest.raises(InvalidInput):
        await solo.rate_interviewer(actor, "9")
    with pytest.raises(Conflict, match="once the mock is over"):
        await solo.rate_interviewer(actor, "4")
    await mocks.pause(actor)
    with pytest.raises(Conflict, match="paused"):
        await solo.say(actor, "What QPS?")
    assert await turns_of(db, view.room_id) == []
    # A paired room does not talk to StudyBot.
    await mocks.join(CAL)
    other = Actor("console", "local", "C1", "U-dan", "Dan")
    await CohortService(db.sessions, mocks.clock).join(other)
    paired = (await mocks.join(other)).room
    assert paired is not None
    with pytest.raises(Conflict, match="solo mock"):
        await solo.say(in_room(CAL, f"mock-{paired.room_id}"), "Hello?")


async def test_a_long_wait_and_a_no_show_offer_a_solo_mock(
    db: Any, mocks: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    solo_on(mocks)
    await mocks.join(BOB)
    clock.advance(minutes=20)
    reply = queue_reply(await mocks.status_of(BOB))
    assert "/mock solo" in reply.messages[0].text
    await mocks.join(CAL)  # paired; Cal confirms by joining, Bob never confirms
    clock.advance(minutes=11)
    await mocks.close_stale()
    offers = [u for u, m in publisher.dms if "did not show" in (m.header or "")]
    assert offers == ["U-cal"]
    view = await SoloMocks(mocks, mocks.solo.engine, EMBEDDER).start(CAL)  # takes the offer
    assert view.candidate == "Cal" and (await mocks.status_of(CAL)).room is not None


async def test_a_room_that_cannot_open_leaves_nothing_half_open(mocks: MockService) -> None:
    from bot.errors import Unavailable
    from bot.messages import PublishError
    from bot.services.mocks import OpenedRoom, RoomRequest

    class RefusingHost:
        async def open_room(self, request: RoomRequest) -> OpenedRoom:
            raise PublishError("missing permissions", transient=False)

        async def close_room(self, room: OpenedRoom) -> None:
            raise AssertionError("nothing was opened")

    solo = solo_on(mocks)
    mocks.add_room_host("console", RefusingHost())
    with pytest.raises(Unavailable, match="could not be opened"):
        await solo.start(BOB)
    assert (await mocks.status_of(BOB)).room is None
    mocks.add_room_host("console", RecordingHost())
    view = await solo.start(BOB)
    assert view.status == "running"
