"""The Discord scorecard menus are persistent: picks live in the room, a restarted bot answers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.discord_app import StudyBotDiscord
from bot.platforms.discord_scorecard import (
    PERSISTENT_ITEMS,
    AspectSelect,
    CommentModal,
    FlagsSelect,
    SendButton,
)
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.settings import load_settings
from bot.store import mocks as repo
from tests.platforms.test_discord_commands import command_of, fake_interaction, response_calls

GUILD, CHANNEL, THREAD = 4000, 5000, 7001
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def actor(user_id: int, *, thread: int | None = None) -> Actor:
    return Actor(
        "discord",
        str(GUILD),
        str(CHANNEL),
        str(user_id),
        f"member{user_id}",
        is_workspace_admin=user_id == 6000,
        thread_id=str(thread) if thread else None,
    )


def new_bot(db: Any) -> StudyBot:
    return StudyBot(
        settings=load_settings(), engine=db.engine, sessions=db.sessions, clock=FakeClock(T0)
    )


@pytest_asyncio.fixture
async def scoring_room(db: Any) -> AsyncIterator[tuple[int, int]]:
    """A Discord cohort whose pair finished a mock in thread 7001: (room id, interviewer id)."""
    bot = new_bot(db)
    cohorts = CohortService(db.sessions, bot.clock)
    await cohorts.setup(actor(6000))
    for user in (6000, 6001):
        await cohorts.join(actor(user))
        view = await bot.mocks.join(actor(user))
    assert view.room is not None
    room_id = view.room.room_id
    async with db.sessions.begin() as session:
        await repo.update_room(session, room_id=room_id, channel_id=str(THREAD))
    interviewer = 6000 if view.room.interviewer == "member6000" else 6001
    await bot.mocks.start(actor(interviewer, thread=THREAD))
    await bot.mocks.end(actor(interviewer, thread=THREAD))
    yield room_id, interviewer


def rebuilt(item: Any, interaction: Any) -> Any:
    """Rebuild an item the way a freshly started client does from the message's custom_id."""
    for factory in PERSISTENT_ITEMS:
        match = re.fullmatch(factory.__discord_ui_compiled_template__, item.item.custom_id)
        if match:
            return factory, match
    raise AssertionError(item.item.custom_id)


async def test_picks_survive_a_restart_and_the_send_button_submits_them(
    db: Any, scoring_room: tuple[int, int]
) -> None:
    room_id, interviewer = scoring_room
    first = StudyBotDiscord(new_bot(db))
    try:
        opened = fake_interaction(user_id=interviewer, in_thread=THREAD)
        await command_of(first, "mock scorecard").callback(opened)  # type: ignore[call-arg]
    finally:
        await first.close()
    assert response_calls(opened) == ["response.send_message", "followup.send"]
    views = [
        opened.response.send_message.await_args.kwargs["view"],
        opened.followup.send.await_args.kwargs["view"],
    ]
    assert all(v.timeout is None and len(v.children) <= 5 for v in views)
    items = [i for v in views for i in v.children]
    ids = [i.custom_id for i in items]
    assert ids[:2] == [f"mock:sc:{room_id}:a:0", f"mock:sc:{room_id}:a:1"]
    assert ids[-2:] == [f"mock:sc:{room_id}:f", f"mock:sc:{room_id}:send"]

    # The bot restarts: a new client, no memory of the menus; the messages on screen still work.
    second_bot = new_bot(db)
    second = StudyBotDiscord(second_bot)
    try:
        for index, wrapper in enumerate(items):
            interaction = fake_interaction(user_id=interviewer, in_thread=THREAD)
            interaction.client = second
            factory, match = rebuilt(wrapper, interaction)
            fresh = await factory.from_custom_id(interaction, wrapper.item, match)
            if isinstance(fresh, AspectSelect):
                fresh.item._values = ["great" if index == 0 else "good"]
            elif isinstance(fresh, FlagsSelect):
                fresh.item._values = ["r0", "g1"]
            else:
                assert isinstance(fresh, SendButton)
                break
            await fresh.callback(interaction)
            assert response_calls(interaction) == ["response.defer"]  # nothing said until sent
        draft = await second_bot.mocks.scorecard_draft(actor(interviewer), room_id=room_id)
        assert draft["ratings"]["Requirements"] == "great" and len(draft["ratings"]) == 7
        reds, greens = second_bot.mocks.scorecard_form()[2:]
        assert draft["flags"] == [reds[0], greens[1]]
        await fresh.callback(interaction)
        modal = interaction.response.send_modal.await_args.args[0]
        assert isinstance(modal, CommentModal) and len(modal.children) <= 5
        modal.comment._value = "Clear and well paced."
        submitted = fake_interaction(user_id=interviewer, in_thread=THREAD)
        submitted.client = second
        await modal.on_submit(submitted)
        said = submitted.response.send_message.await_args.args[0]
        assert said.startswith("Scorecard saved")
    finally:
        await second.close()
    async with db.sessions() as session:
        room = await repo.get_room(session, room_id=room_id)
    assert room is not None and room.status == "closed"
    card = room.scorecard["interviewer"]
    assert card["ratings"]["Requirements"] == "great" and card["comment"] == "Clear and well paced."


async def test_the_candidate_cannot_pick_for_the_interviewer(
    db: Any, scoring_room: tuple[int, int]
) -> None:
    room_id, interviewer = scoring_room
    candidate = 6001 if interviewer == 6000 else 6000
    face = StudyBotDiscord(new_bot(db))
    try:
        select = AspectSelect.build(room_id, 0, "Requirements", ("not-yet", "good", "great"))
        select.item._values = ["great"]
        interaction = fake_interaction(user_id=candidate, in_thread=THREAD)
        interaction.client = face
        await select.callback(interaction)
    finally:
        await face.close()
    told = interaction.response.send_message.await_args
    assert "Only the interviewer" in told.args[0] and told.kwargs["ephemeral"] is True
    draft = await new_bot(db).mocks.scorecard_draft(actor(interviewer), room_id=room_id)
    assert draft == {}
