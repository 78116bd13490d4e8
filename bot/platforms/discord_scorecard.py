"""The mock scorecard on Discord: select menus in messages, then a modal for the comment.

A message holds at most five rows and a select takes a whole row, so the aspects (one select
each on the guide's scale) and the flags (one multi-select) are spread over as many private
messages as they need; the last one ends with a button that opens the comment modal (a modal
holds at most five components).

The menus are persistent: each is a `DynamicItem` whose custom_id carries the room and what it
picks (`mock:sc:<room>:a:<aspect index>`, `mock:sc:<room>:f`, `mock:sc:<room>:send`), and every
pick is stored in the room at once. So a bot restarted between two picks still answers the
menus already on screen, and the send button submits what the database holds, not what one
process remembered. The comment modal is the one short-lived part: it is open for seconds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.scorecards import SCALE_LABELS
from bot.errors import StudyBotError

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.platforms.discord_app import StudyBotDiscord
    from bot.services.context import Actor

SCORECARD_PATH = "mock scorecard"
ROWS_PER_MESSAGE = 5
OPTION_LIMIT = 100  # Discord's limit on an option's label and value
OPTIONS_PER_SELECT = 25

Form = tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]]


def _clip(text: str) -> str:
    return text if len(text) <= OPTION_LIMIT else text[: OPTION_LIMIT - 1] + "…"


def actor_for(interaction: discord.Interaction[Any]) -> Actor:
    """Describe who picked (the face's own rule; imported late: the face imports this module)."""
    from bot.platforms.discord_app import actor_for as face_actor

    return face_actor(interaction)


def _bot(interaction: discord.Interaction[Any]) -> StudyBot:
    bot: StudyBot | None = getattr(interaction.client, "bot", None)
    if bot is None:
        raise StudyBotError("StudyBot is starting; try again in a moment.")
    return bot


async def _tell(interaction: discord.Interaction[Any], text: str) -> None:
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True)
    else:
        await interaction.response.send_message(text, ephemeral=True)


class AspectSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"mock:sc:(?P<room>\d+):a:(?P<index>\d+)",
):
    """Rate one aspect on the guide's scale; the pick is stored in the room."""

    def __init__(self, room_id: int, index: int, item: discord.ui.Select[Any]) -> None:
        super().__init__(item)
        self.room_id = room_id
        self.index = index

    @classmethod
    def build(cls, room_id: int, index: int, aspect: str, scale: Sequence[str]) -> AspectSelect:
        """Return the select for one aspect of one room's scorecard."""
        return cls(
            room_id,
            index,
            discord.ui.Select(
                custom_id=f"mock:sc:{room_id}:a:{index}",
                placeholder=_clip(f"{aspect}: rate it"),
                options=[
                    discord.SelectOption(
                        label=_clip(f"{aspect}: {SCALE_LABELS[level]}"), value=level
                    )
                    for level in scale
                ],
            ),
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Select[Any],
        match: re.Match[str],
        /,
    ) -> AspectSelect:
        """Rebuild the select from a message sent before (by this process or another)."""
        return cls(int(match["room"]), int(match["index"]), item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        """Store the rating in the room; nothing is sent until the comment is in."""
        bot = _bot(interaction)
        aspects = bot.mocks.scorecard_form()[0]
        try:
            await bot.mocks.save_scorecard_pick(
                actor_for(interaction),
                room_id=self.room_id,
                aspect=aspects[self.index] if self.index < len(aspects) else f"#{self.index}",
                level=self.item.values[0],
            )
        except StudyBotError as exc:
            await _tell(interaction, exc.message)
            return
        await interaction.response.defer()


class FlagsSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"mock:sc:(?P<room>\d+):f"
):
    """Tick the red and green flags seen (values r<i>/g<i> name them in the guide's lists)."""

    def __init__(self, room_id: int, item: discord.ui.Select[Any]) -> None:
        super().__init__(item)
        self.room_id = room_id

    @classmethod
    def build(cls, room_id: int, reds: Sequence[str], greens: Sequence[str]) -> FlagsSelect:
        """Return the flags select of one room's scorecard."""
        options = [
            discord.SelectOption(label=_clip(f), value=f"r{i}", description="red flag")
            for i, f in enumerate(reds)
        ] + [
            discord.SelectOption(label=_clip(f), value=f"g{i}", description="green flag")
            for i, f in enumerate(greens)
        ]
        options = options[:OPTIONS_PER_SELECT]
        return cls(
            room_id,
            discord.ui.Select(
                custom_id=f"mock:sc:{room_id}:f",
                placeholder="Red and green flags you saw",
                min_values=0,
                max_values=len(options),
                options=options,
            ),
        )

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Select[Any],
        match: re.Match[str],
        /,
    ) -> FlagsSelect:
        """Rebuild the select from a message sent before."""
        return cls(int(match["room"]), item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        """Store the flags picked in the room."""
        bot = _bot(interaction)
        _, _, reds, greens = bot.mocks.scorecard_form()
        lists = {"r": list(reds), "g": list(greens)}
        flags = []
        for value in self.item.values:
            kind, index = value[:1], int(value[1:] or 0)
            if kind in lists and index < len(lists[kind]):
                flags.append(lists[kind][index])
        try:
            await bot.mocks.save_scorecard_pick(
                actor_for(interaction), room_id=self.room_id, flags=flags
            )
        except StudyBotError as exc:
            await _tell(interaction, exc.message)
            return
        await interaction.response.defer()


class CommentModal(discord.ui.Modal):
    """The comment for the candidate; submitting sends the scorecard the room holds."""

    def __init__(self, room_id: int) -> None:
        super().__init__(title="Mock scorecard", custom_id=f"mock:sc:{room_id}:comment")
        self.room_id = room_id
        self.comment: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
            label="Comment for the candidate",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=2000,
        )
        self.add_item(self.comment)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        """Submit the stored picks with the comment."""
        bot = _bot(interaction)
        try:
            text = await bot.mocks.submit_scorecard_draft(
                actor_for(interaction), room_id=self.room_id, comment=self.comment.value or ""
            )
        except StudyBotError as exc:
            text = exc.message
        await _tell(interaction, text)


class SendButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"mock:sc:(?P<room>\d+):send"
):
    """Open the comment modal of one room's scorecard."""

    def __init__(self, room_id: int, item: discord.ui.Button[Any] | None = None) -> None:
        super().__init__(
            item
            or discord.ui.Button(
                label="Add a comment and send",
                style=discord.ButtonStyle.primary,
                custom_id=f"mock:sc:{room_id}:send",
            )
        )
        self.room_id = room_id

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Button[Any],
        match: re.Match[str],
        /,
    ) -> SendButton:
        """Rebuild the button from a message sent before."""
        return cls(int(match["room"]), item)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:  # type: ignore[override]
        """Ask for the comment."""
        await interaction.response.send_modal(CommentModal(self.room_id))


PERSISTENT_ITEMS = (AspectSelect, FlagsSelect, SendButton)


def register_scorecard_items(client: discord.Client) -> None:
    """Let the client answer scorecard menus sent before it started (persistent items)."""
    client.add_dynamic_items(*PERSISTENT_ITEMS)


def scorecard_views(room_id: int, form: Form) -> list[discord.ui.View]:
    """Return the scorecard's messages' views: five rows each, the send button last."""
    aspects, scale, reds, greens = form
    items: list[discord.ui.Item[Any]] = [
        AspectSelect.build(room_id, i, aspect, scale) for i, aspect in enumerate(aspects)
    ]
    items.append(FlagsSelect.build(room_id, reds, greens))
    items.append(SendButton(room_id))
    views: list[discord.ui.View] = []
    for start in range(0, len(items), ROWS_PER_MESSAGE):
        view = discord.ui.View(timeout=None)
        for item in items[start : start + ROWS_PER_MESSAGE]:
            view.add_item(item)
        views.append(view)
    return views


async def open_scorecard(client: StudyBotDiscord, interaction: discord.Interaction[Any]) -> None:
    """Send the interviewer the scorecard's select menus, privately."""
    bot = client.bot
    if bot is None:
        raise StudyBotError("StudyBot is starting; try again in a moment.")
    room_id = await bot.mocks.scorecard_room(actor_for(interaction))
    views = scorecard_views(room_id, bot.mocks.scorecard_form())
    await interaction.response.send_message(
        "Rate the candidate on each aspect, tick the flags, then add a comment and send.",
        view=views[0],
        ephemeral=True,
    )
    for view in views[1:]:
        await interaction.followup.send(view=view, ephemeral=True)
