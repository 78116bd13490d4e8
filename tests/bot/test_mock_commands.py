"""The /mock commands through the dispatcher: replies, and one clear sentence per bad input."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import dispatch
from bot.errors import StudyBotError
from bot.services.context import Actor
from bot.settings import load_settings

ADA = Actor("console", "local", "C1", "U-ada", "Ada", is_workspace_admin=True)
BOB = Actor("console", "local", "C1", "U-bob", "Bob")


@pytest.fixture
async def bot(db: Any) -> StudyBot:
    app = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )
    await app.cohorts.setup(ADA)
    await app.cohorts.join(BOB)
    return app


def text(reply: Any) -> str:
    return "\n".join(m.text for m in reply.messages)


def in_room(actor: Actor, room: str) -> Actor:
    return Actor(actor.platform, actor.workspace_id, room, actor.user_id, actor.display_name)


async def refused(bot: StudyBot, actor: Actor, path: str, args: dict[str, Any]) -> str:
    with pytest.raises(StudyBotError) as caught:
        await dispatch(bot, actor, path, args)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


async def test_a_mock_through_the_commands(bot: StudyBot) -> None:
    assert "number 1" in text(await dispatch(bot, ADA, "mock join", {}))
    assert "queued already" in await refused(bot, ADA, "mock join", {})
    assert "Unknown mock kind" in await refused(bot, BOB, "mock join", {"kind": "karaoke"})
    joined = text(await dispatch(bot, BOB, "mock join", {}))
    room = "mock-1"
    assert "Mock 1 round 1" in joined
    assert "not a mock room" in await refused(bot, ADA, "mock start", {})
    interviewer = in_room(ADA, room)
    started = await dispatch(bot, interviewer, "mock start", {})
    assert not started.ephemeral and "Clarify" in text(started)
    assert "running already" in await refused(bot, interviewer, "mock start", {})
    for bad in ("0", "-5", "999", "abc"):
        message = await refused(bot, interviewer, "mock extend", {"minutes": bad})
        assert "/mock extend 5" in message
    assert "aspect=level" in await refused(
        bot, interviewer, "mock scorecard", {"ratings": "everything great"}
    )
    ended = text(await dispatch(bot, interviewer, "mock end", {}))
    assert "scoring" in ended
    history = await dispatch(bot, BOB, "mock history", {})
    assert "with Ada" in history.messages[0].fields[0].name
    assert "in a mock room already" in await refused(bot, BOB, "mock join", {})


async def test_a_solo_mock_through_the_commands(bot: StudyBot) -> None:
    started = await dispatch(bot, BOB, "mock solo", {})
    assert not started.ephemeral and "StudyBot interviews Bob" in text(started)
    room = in_room(BOB, "mock-1")
    await bot.mocks.announce_due()  # Clarify begins: StudyBot's opening
    said = await dispatch(bot, room, "mock say", {"text": "What's the latency target?"})
    assert "StudyBot" in text(said) and "<100ms" in text(said)
    assert "once the mock is over" in await refused(bot, room, "mock rate", {"stars": "5"})
    assert "Only the cohort's admins" in await refused(bot, BOB, "mock rooms", {"style": "x"})
    assert "console" in await refused(bot, ADA, "mock rooms", {"style": "channel"})
    await dispatch(bot, room, "mock end", {})
    assert "rated 5/5" in text(await dispatch(bot, room, "mock rate", {"stars": "5"}))
    history = await dispatch(bot, BOB, "mock history", {})
    assert "StudyBot" in history.messages[0].fields[0].name
