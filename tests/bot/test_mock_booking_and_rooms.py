"""Booked mocks reminded once at their slot; how a cohort's rooms open on Discord and Slack."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from unittest.mock import create_autospec

import discord
import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.errors import InvalidInput, NotAllowed
from bot.messages import Channel, Message, PublishError
from bot.platforms.discord_mock_rooms import DiscordRoomHost
from bot.platforms.slack_app import SlackPublisher
from bot.platforms.slack_mock_rooms import SlackRoomHost
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.mocks import MockService, OpenedRoom, RoomRequest
from bot.store import mocks as repo
from tests.bot.test_mock_service import (
    ADMIN,
    BOB,
    CAL,
    T0,
    RecordingHost,
    RecordingPublisher,
    make_service,
)
from tests.support.slack_api_server import MockSlackApi

DAN = Actor("console", "local", "C1", "U-dan", "Dan")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def service(db: Any, clock: FakeClock, publisher: RecordingPublisher) -> MockService:
    cohorts = CohortService(db.sessions, clock)
    await cohorts.setup(ADMIN)
    for actor in (BOB, CAL):
        await cohorts.join(actor)
    return make_service(db, clock, publisher, "bot-1")


def reminders(publisher: RecordingPublisher) -> list[tuple[str, Message]]:
    return [(c, m) for c, m in publisher.posts if m.header == "Booked mock: now"]


async def test_a_booked_pair_is_reminded_once_at_the_slot(
    db: Any, service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    await service.book(BOB, "2026-12-02 10:00")
    view = await service.book(CAL, "2026-12-02 10:00")
    assert view.room is not None
    assert await service.next_slot_at() == clock.now() + timedelta(hours=1)
    assert await service.remind_booked() == []  # before the slot: nothing
    clock.advance(minutes=60)
    other = make_service(db, clock, publisher, "bot-2")
    done = await asyncio.gather(service.remind_booked(), other.remind_booked())
    assert sorted(done, key=len) == [[], [view.room.room_id]]
    [(channel, message)] = reminders(publisher)
    assert channel == f"mock-{view.room.room_id}" and "Bob and Cal" in message.text
    dm_users = [u for u, m in publisher.dms if m.header == "Booked mock: now"]
    assert sorted(dm_users) == ["U-bob", "U-cal"]
    clock.advance(minutes=1)
    assert await service.remind_booked() == [] and len(reminders(publisher)) == 1


async def test_a_failed_reminder_is_given_back_and_sent_later_once(
    service: MockService, clock: FakeClock, publisher: RecordingPublisher
) -> None:
    await service.book(BOB, "2026-12-02 10:00")
    await service.book(CAL, "2026-12-02 10:00")
    clock.advance(minutes=60)
    real_post = publisher.post

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PublishError("slack is down", transient=True)

    publisher.post = refuse  # type: ignore[method-assign]
    assert await service.remind_booked() == []
    publisher.post = real_post  # type: ignore[method-assign]
    clock.advance(30)
    assert len(await service.remind_booked()) == 1
    assert len(reminders(publisher)) == 1


async def test_a_lone_booking_is_matched_at_its_slot_with_who_waits(
    db: Any, service: MockService, clock: FakeClock
) -> None:
    await CohortService(db.sessions, clock).join(DAN)
    await service.book(BOB, "2026-12-02 10:00")
    await service.join(CAL)  # waiting now: not paired with a slot two hours away
    assert (await service.status_of(BOB)).room is None
    clock.advance(minutes=59)
    await service.remind_booked()
    assert (await service.status_of(BOB)).room is None
    clock.advance(minutes=1)
    await service.remind_booked()
    bob = await service.status_of(BOB)
    assert bob.room is not None and {bob.room.interviewer, bob.room.candidate} == {"Bob", "Cal"}
    assert (await service.remind_booked()) == []
    assert (await service.status_of(DAN)).position is None  # never queued, never paired


async def test_rooms_open_in_the_cohort_s_chosen_style(
    db: Any, service: MockService, clock: FakeClock
) -> None:
    with pytest.raises(InvalidInput, match="console"):
        await service.set_room_style(ADMIN, "channel")  # the console has no rooms to choose
    discord_bob = Actor("discord", "local", "C1", "U-bob", "Bob")
    with pytest.raises(Exception):  # noqa: B017 - no discord cohort here: refused either way
        await service.set_room_style(discord_bob, "channel")
    host = RecordingHost()
    service.add_room_host("console", host)
    async with db.sessions.begin() as session:
        cohort_id = (await repo.room_style(session, cohort_id=1), 1)[1]
        await repo.set_room_style(session, cohort_id=cohort_id, style="channel", now=clock.now())
    await service.join(BOB)
    await service.join(CAL)
    assert host.opened[0].style == "channel"


async def test_only_admins_choose_the_room_style(
    db: Any, service: MockService, clock: FakeClock
) -> None:
    with pytest.raises(NotAllowed):
        await service.set_room_style(BOB, "channel")


# --- the faces -------------------------------------------------------------------------------

REQUEST = RoomRequest("discord", "111", "222", "mock-7-Ada-Bob", ("301", "302"), style="channel")


@pytest.fixture
def guild_parts() -> dict[str, Any]:
    guild = create_autospec(discord.Guild, instance=True)
    guild.default_role = create_autospec(discord.Role, instance=True)
    guild.me = create_autospec(discord.Member, instance=True)
    parent = create_autospec(discord.TextChannel, instance=True)
    parent.id = 222
    parent.guild = guild
    parent.category = create_autospec(discord.CategoryChannel, instance=True)
    text = create_autospec(discord.TextChannel, instance=True)
    text.id = 4002
    guild.create_text_channel.return_value = text
    voice = create_autospec(discord.VoiceChannel, instance=True)
    voice.id = 5002
    guild.create_voice_channel.return_value = voice
    client = create_autospec(discord.Client, instance=True)
    client.get_channel.side_effect = {222: parent, 4002: text, 5002: voice}.get
    return {"client": client, "parent": parent, "text": text, "voice": voice, "guild": guild}


async def test_discord_private_channel_for_the_pair(guild_parts: dict[str, Any]) -> None:
    host = DiscordRoomHost(guild_parts["client"])
    room = await host.open_room(REQUEST)
    assert room == OpenedRoom("4002", "5002")
    guild_parts["parent"].create_thread.assert_not_called()
    kwargs = guild_parts["guild"].create_text_channel.call_args.kwargs
    assert kwargs["category"] is guild_parts["parent"].category
    overwrites = kwargs["overwrites"]
    assert overwrites[guild_parts["guild"].default_role].view_channel is False
    assert overwrites[guild_parts["guild"].me].send_messages is True
    members = {k.id: v for k, v in overwrites.items() if isinstance(k, discord.Object)}
    assert set(members) == {301, 302} and all(v.view_channel for v in members.values())
    # Closing: the voice channel goes, the text stays readable and stops taking messages.
    guild_parts["text"].overwrites = overwrites
    await host.close_room(room)
    guild_parts["voice"].delete.assert_awaited_once()
    locked = guild_parts["text"].edit.call_args.kwargs["overwrites"]
    assert all(o.send_messages is False for o in locked.values())
    assert {k.id for k in locked if isinstance(k, discord.Object)} == {301, 302}


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[tuple[MockSlackApi, SlackPublisher]]:
    async with MockSlackApi() as api:
        client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
        pub = SlackPublisher(client, channel_interval_s=0.0)
        yield api, pub
        await pub.aclose()


async def test_slack_group_dm_for_the_pair(slack: tuple[MockSlackApi, SlackPublisher]) -> None:
    api, slack_publisher = slack
    host = SlackRoomHost(slack_publisher)
    request = RoomRequest("slack", "T0TEAM001", "C0COHORT1", "mock-7", ("U1", "U2"), "group-dm")
    room = await host.open_room(request)
    [opened] = api.calls_to("conversations.open")
    assert opened.params["users"] == "U1,U2" and room.archive is False
    assert not api.calls_to("conversations.create") and not api.private_channels
    await slack_publisher.post(
        Channel("slack", "T0TEAM001", room.channel_id),
        Message(text="Clarify begins now."),
        idempotency_key="mock:7:phase:clarify",
    )
    assert api.posted(room.channel_id)
    await host.close_room(room)  # a group DM cannot be archived: nothing is asked of Slack
    assert not api.calls_to("conversations.archive")
