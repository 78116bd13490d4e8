"""Private mock rooms on Discord: a private thread with the pair plus a temporary voice channel.

The thread opens under the cohort's channel (invitable by nobody else); the voice channel sits
in the same category and only the two members may see and join it. Closing the room deletes
the voice channel and archives and locks the thread, so its history stays readable.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.messages import PublishError
from bot.platforms.discord_app import publish_errors
from bot.services.mocks import OpenedRoom, RoomRequest


class DiscordRoomHost:
    """Open and close private mock rooms through the Discord client."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def _channel(self, channel_id: str) -> Any:
        found = self._client.get_channel(int(channel_id))
        if found is None:
            found = await self._client.fetch_channel(int(channel_id))
        return found

    async def open_room(self, request: RoomRequest) -> OpenedRoom:
        """Create the private thread with both members and their voice channel."""
        async with publish_errors("open a mock room"):
            parent = await self._channel(request.cohort_channel_id)
            if not isinstance(parent, discord.TextChannel):
                raise PublishError(
                    "open a mock room: the cohort's channel is not a text channel", transient=False
                )
            thread = await parent.create_thread(
                name=request.title[:100],
                type=discord.ChannelType.private_thread,
                invitable=False,
                reason="paired mock interview",
            )
            for user_id in request.user_ids:
                await thread.add_user(discord.Object(id=int(user_id)))
            guild = parent.guild
            overwrites: dict[Any, discord.PermissionOverwrite] = {
                guild.default_role: discord.PermissionOverwrite(view_channel=False, connect=False)
            }
            for user_id in request.user_ids:
                overwrites[discord.Object(id=int(user_id), type=discord.Member)] = (
                    discord.PermissionOverwrite(view_channel=True, connect=True, speak=True)
                )
            voice = await guild.create_voice_channel(
                name=request.title[:100],
                category=parent.category,
                overwrites=overwrites,
                reason="paired mock interview",
            )
        return OpenedRoom(channel_id=str(thread.id), voice_channel_id=str(voice.id))

    async def close_room(self, room: OpenedRoom) -> None:
        """Delete the voice channel; archive and lock the thread."""
        async with publish_errors("close a mock room"):
            if room.voice_channel_id:
                voice = await self._channel(room.voice_channel_id)
                await voice.delete(reason="mock interview over")
            thread = await self._channel(room.channel_id)
            if isinstance(thread, discord.Thread):
                await thread.edit(archived=True, locked=True)
