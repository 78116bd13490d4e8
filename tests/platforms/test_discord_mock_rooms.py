"""Private mock rooms on Discord against autospec'd discord.py objects."""

from __future__ import annotations

from typing import Any
from unittest.mock import create_autospec

import aiohttp
import discord
import pytest

from bot.messages import PublishError
from bot.platforms.discord_mock_rooms import DiscordRoomHost
from bot.services.mocks import OpenedRoom, RoomRequest

REQUEST = RoomRequest("discord", "111", "222", "mock-7-Ada-Bob", ("301", "302"))


def forbidden() -> discord.Forbidden:
    response = create_autospec(aiohttp.ClientResponse, instance=True)
    response.status = 403
    response.reason = "Forbidden"
    return discord.Forbidden(response, {"message": "Missing Permissions", "code": 50013})


@pytest.fixture
def parts() -> dict[str, Any]:
    guild = create_autospec(discord.Guild, instance=True)
    guild.default_role = create_autospec(discord.Role, instance=True)
    parent = create_autospec(discord.TextChannel, instance=True)
    parent.id = 222
    parent.guild = guild
    parent.category = create_autospec(discord.CategoryChannel, instance=True)
    thread = create_autospec(discord.Thread, instance=True)
    thread.id = 4001
    parent.create_thread.return_value = thread
    voice = create_autospec(discord.VoiceChannel, instance=True)
    voice.id = 5001
    guild.create_voice_channel.return_value = voice
    client = create_autospec(discord.Client, instance=True)
    by_id = {222: parent, 4001: thread, 5001: voice}
    client.get_channel.side_effect = by_id.get
    return {"client": client, "parent": parent, "thread": thread, "voice": voice, "guild": guild}


async def test_a_private_thread_and_a_voice_channel_for_the_pair(parts: dict[str, Any]) -> None:
    host = DiscordRoomHost(parts["client"])
    room = await host.open_room(REQUEST)
    assert room == OpenedRoom("4001", "5001")
    kwargs = parts["parent"].create_thread.call_args.kwargs
    assert kwargs["type"] is discord.ChannelType.private_thread and kwargs["invitable"] is False
    added = [c.args[0].id for c in parts["thread"].add_user.call_args_list]
    assert added == [301, 302]
    voice_kwargs = parts["guild"].create_voice_channel.call_args.kwargs
    overwrites = voice_kwargs["overwrites"]
    everyone = overwrites[parts["guild"].default_role]
    assert everyone.view_channel is False and everyone.connect is False
    members = {k.id: v for k, v in overwrites.items() if isinstance(k, discord.Object)}
    assert set(members) == {301, 302} and all(v.connect for v in members.values())
    assert voice_kwargs["category"] is parts["parent"].category


async def test_closing_removes_the_voice_channel_and_locks_the_thread(
    parts: dict[str, Any],
) -> None:
    host = DiscordRoomHost(parts["client"])
    await host.close_room(OpenedRoom("4001", "5001"))
    parts["voice"].delete.assert_awaited_once()
    parts["thread"].edit.assert_awaited_once_with(archived=True, locked=True)


async def test_missing_permission_is_a_clear_publish_error(parts: dict[str, Any]) -> None:
    parts["guild"].create_voice_channel.side_effect = forbidden()
    with pytest.raises(PublishError) as refused:
        await DiscordRoomHost(parts["client"]).open_room(REQUEST)
    assert "lack permission" in str(refused.value) and not refused.value.transient
