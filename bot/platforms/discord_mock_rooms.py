"""Private mock rooms on Discord: a private thread (or channel) plus a temporary voice channel.

By default the room is a private thread under the cohort's channel (invitable by nobody else);
a cohort may choose a private text channel instead (`/mock rooms channel`), in the same category
and visible to the pair and the bot only. The voice channel sits in the same category and only
the members may see and join it. Closing the room deletes the voice channel and archives and
locks the thread (or takes the right to write away in the private channel), so its history
stays readable.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.messages import PublishError
from bot.platforms.discord_app import publish_errors
from bot.services.mocks import OpenedRoom, RoomRequest


def _private_text(guild: discord.Guild, user_ids: tuple[str, ...]) -> dict[Any, Any]:
    """Return the overwrites of a private text room: the pair and the bot see it, nobody else."""
    overwrites: dict[Any, discord.PermissionOverwrite] = {
        guild.default_role: discord.PermissionOverwrite(view_channel=False)
    }
    if guild.me is not None:
        overwrites[guild.me] = discord.PermissionOverwrite(view_channel=True, send_messages=True)
    for user_id in user_ids:
        overwrites[discord.Object(id=int(user_id), type=discord.Member)] = (
            discord.PermissionOverwrite(view_channel=True, send_messages=True)
        )
    return overwrites


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
            guild = parent.guild
            if request.style == "channel":
                room = await guild.create_text_channel(
                    name=request.title[:100],
                    category=parent.category,
                    overwrites=_private_text(guild, request.user_ids),
                    reason="mock interview",
                )
            else:
                room = await parent.create_thread(
                    name=request.title[:100],
                    type=discord.ChannelType.private_thread,
                    invitable=False,
                    reason="mock interview",
                )
                for user_id in request.user_ids:
                    await room.add_user(discord.Object(id=int(user_id)))
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
                reason="mock interview",
            )
        return OpenedRoom(channel_id=str(room.id), voice_channel_id=str(voice.id))

    async def close_room(self, room: OpenedRoom) -> None:
        """Delete the voice channel; archive and lock the thread."""
        async with publish_errors("close a mock room"):
            if room.voice_channel_id:
                voice = await self._channel(room.voice_channel_id)
                await voice.delete(reason="mock interview over")
            text = await self._channel(room.channel_id)
            if isinstance(text, discord.Thread):
                await text.edit(archived=True, locked=True)
            elif isinstance(text, discord.TextChannel):
                # Readable, no longer writable: keep who may see it, take away sending.
                locked = {
                    target: discord.PermissionOverwrite(
                        view_channel=overwrite.view_channel, send_messages=False
                    )
                    for target, overwrite in text.overwrites.items()
                }
                await text.edit(overwrites=locked, reason="mock interview over")
