"""Who is asking, from where: what every service call gets from a face."""

from __future__ import annotations

from dataclasses import dataclass

from bot.messages import Channel, Platform


@dataclass(frozen=True)
class Actor:
    """The member behind a command, as the platform describes them."""

    platform: Platform
    workspace_id: str
    channel_id: str
    user_id: str
    display_name: str = ""
    is_workspace_admin: bool = False
    thread_id: str | None = None
    channel_name: str | None = None  # the channel's name, when the face knows it

    @property
    def channel(self) -> Channel:
        """Return the channel the command came from."""
        return Channel(self.platform, self.workspace_id, self.channel_id)
