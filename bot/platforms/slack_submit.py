"""Slack's side of /submit: progress edited into one message, and files shared to submit.

Slack has no attachments on slash commands, so a member may also share a `.py` file in the
channel or in a DM with the bot, with the message `submit <drill> [device]`; the bot downloads
it (the bot token reads files shared where it is) and submits it like `/study submit`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import Clock
from bot.drill_commands import check_attachment_size
from bot.errors import InvalidInput

# `submit softmax`, `submit softmax cuda`, or the whole slash command typed as a message.
SUBMIT_MESSAGE = re.compile(
    r"^\s*(?:/study\s+)?submit\s+(?P<drill>[\w.-]+)(?:\s+(?P<device>[a-z0-9-]+))?\s*$", re.I
)
# Progress edits come at most this often (Slack rate-limits chat.update per channel).
MIN_EDIT_INTERVAL = timedelta(seconds=2)


class ProgressMessage:
    """Shows a waiting submission's state in one message, posted once and then edited in place.

    `post` shows the first line and returns a handle; `edit` replaces the text. Edits come no
    closer than `min_interval` on the injected clock, and at most `max_edits` of them.
    """

    def __init__(
        self,
        clock: Clock,
        post: Callable[[str], Awaitable[Any]],
        edit: Callable[[Any, str], Awaitable[Any]],
        *,
        max_edits: int | None = None,
        min_interval: timedelta = MIN_EDIT_INTERVAL,
    ) -> None:
        self._clock = clock
        self._post = post
        self._edit = edit
        self._max_edits = max_edits
        self._min_interval = min_interval
        self._handle: Any = None
        self._shown_at: Any = None
        self.edits = 0

    async def __call__(self, line: str) -> None:
        """Show `line`, unless the last change was too recent or the edits are spent."""
        now = self._clock.now()
        text = f":hourglass_flowing_sand: {line}"
        if self._handle is None:
            self._handle = await self._post(text)
            self._shown_at = now
            return
        if self._max_edits is not None and self.edits >= self._max_edits:
            return
        if now - self._shown_at < self._min_interval:
            return
        await self._edit(self._handle, text)
        self._shown_at = now
        self.edits += 1


def submit_request(text: str, files: list[Mapping[str, Any]]) -> tuple[str, str | None] | None:
    """Return (drill, device) when a message shares one file and asks to submit it."""
    match = SUBMIT_MESSAGE.match(text or "")
    if match is None or not files:
        return None
    if len(files) != 1:
        raise InvalidInput(
            "Share one .py file with `submit <drill>`, not several.",
            hint="Put your whole solution in one file.",
        )
    return match["drill"], match["device"]


async def download_shared_file(client: AsyncWebClient, file: Mapping[str, Any]) -> bytes:
    """Return a shared file's bytes; refuse one over the limit before downloading it."""
    info = file
    if not info.get("url_private_download") or "size" not in info:
        answer = await client.files_info(file=str(file.get("id", "")))
        info = answer.get("file") or {}
    size = int(info.get("size") or 0)
    check_attachment_size(size)
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    if not url:
        raise InvalidInput("Slack did not let the bot read that file.", hint="Share it again.")
    headers = {"Authorization": f"Bearer {client.token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, headers=headers, allow_redirects=True) as response,
    ):
        if response.status != 200:
            raise InvalidInput(
                "Slack did not let the bot read that file.",
                hint="Share it in a channel the bot is in, or in a DM with the bot.",
            )
        data = await response.content.read(size + 1 if size else 1 << 20)
    check_attachment_size(len(data))
    return data
