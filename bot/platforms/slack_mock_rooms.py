"""Private mock rooms on Slack: a private channel with the pair, or a group DM.

By default the room is a private channel, archived when the room closes; a cohort may choose a
group DM instead (`/mock rooms group-dm`: conversations.open with the members' ids), which
cannot be archived and is simply left. Slack's API cannot start a huddle, so the room's
introduction tells the pair to start one themselves. Scopes: groups:write (create, invite,
archive private channels), mpim:write (open a group DM).
"""

from __future__ import annotations

import re

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.messages import PublishError
from bot.platforms.slack_app import SlackPublisher, publish_error_from
from bot.services.mocks import OpenedRoom, RoomRequest

# Every Web API method this module calls, with its bot scopes (checked against the manifest).
MOCK_ROOM_SCOPES: dict[str, tuple[str, ...]] = {
    "conversations.create": ("groups:write",),
    "conversations.invite": ("groups:write",),
    "conversations.archive": ("groups:write",),
    "conversations.open": ("mpim:write",),
}


def channel_name(title: str) -> str:
    """Return a valid Slack channel name (lowercase, no spaces, at most 80 characters)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", title.lower()).strip("-")
    return (name or "mock")[:80]


class SlackRoomHost:
    """Open and close private mock rooms through the publisher's Web API client."""

    def __init__(self, publisher: SlackPublisher) -> None:
        self._publisher = publisher

    async def open_room(self, request: RoomRequest) -> OpenedRoom:
        """Create a private channel and invite both members."""
        client = self._publisher.client
        try:
            if request.style == "group-dm":
                opened = await client.conversations_open(users=",".join(request.user_ids))
                return OpenedRoom(channel_id=str(opened["channel"]["id"]), archive=False)
            created = await client.conversations_create(
                name=channel_name(request.title), is_private=True
            )
            channel_id = str(created["channel"]["id"])
            await client.conversations_invite(channel=channel_id, users=",".join(request.user_ids))
        except SlackApiError as exc:
            raise publish_error_from(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PublishError(f"open a mock room: {type(exc).__name__}", transient=True) from exc
        return OpenedRoom(channel_id=channel_id)

    async def close_room(self, room: OpenedRoom) -> None:
        """Archive the room's private channel (its history stays readable); leave a group DM."""
        if not room.archive:
            return
        try:
            await self._publisher.client.conversations_archive(channel=room.channel_id)
        except SlackApiError as exc:
            raise publish_error_from(exc) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PublishError(f"close a mock room: {type(exc).__name__}", transient=True) from exc
