"""The mock scorecard on Discord: select menus in messages, then a modal for the comment.

A message holds at most five rows and a select takes a whole row, so the aspects (one select
each on the guide's scale) and the flags (one multi-select) are spread over as many private
messages as they need; the last one ends with a button that opens the comment modal (a modal
holds at most five components). Submitting runs `/mock scorecard` like the typed command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import discord

from bot.domain.scorecards import SCALE_LABELS
from bot.errors import StudyBotError

if TYPE_CHECKING:
    from bot.platforms.discord_app import StudyBotDiscord

SCORECARD_PATH = "mock scorecard"
ROWS_PER_MESSAGE = 5
OPTION_LIMIT = 100  # Discord's limit on an option's label and value
OPTIONS_PER_SELECT = 25

Form = tuple[Sequence[str], Sequence[str], Sequence[str], Sequence[str]]


def _clip(text: str) -> str:
    return text if len(text) <= OPTION_LIMIT else text[: OPTION_LIMIT - 1] + "…"


@dataclass
class ScorecardDraft:
    """What the interviewer picked so far, shared by the messages of one scorecard."""

    aspects: list[str]
    ratings: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)

    def args(self, comment: str) -> dict[str, Any]:
        """Return the options of `/mock scorecard` (an aspect left unrated is left out)."""
        ratings = "; ".join(f"{a}={self.ratings[a]}" for a in self.aspects if a in self.ratings)
        args: dict[str, Any] = {"ratings": ratings}
        if self.flags:
            args["flags"] = "; ".join(self.flags)
        if comment.strip():
            args["comment"] = comment.strip()
        return args


class AspectSelect(discord.ui.Select[discord.ui.View]):
    """Rate one aspect on the guide's scale."""

    def __init__(self, draft: ScorecardDraft, aspect: str, scale: Sequence[str]) -> None:
        super().__init__(
            placeholder=_clip(f"{aspect}: rate it"),
            options=[
                discord.SelectOption(label=_clip(f"{aspect}: {SCALE_LABELS[level]}"), value=level)
                for level in scale
            ],
        )
        self.draft = draft
        self.aspect = aspect

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Keep the rating; nothing is sent until the comment is in."""
        self.draft.ratings[self.aspect] = self.values[0]
        await interaction.response.defer()


class FlagsSelect(discord.ui.Select[discord.ui.View]):
    """Tick the red and green flags seen."""

    def __init__(self, draft: ScorecardDraft, reds: Sequence[str], greens: Sequence[str]) -> None:
        options = [
            discord.SelectOption(label=_clip(f), value=_clip(f), description="red flag")
            for f in reds
        ] + [
            discord.SelectOption(label=_clip(f), value=_clip(f), description="green flag")
            for f in greens
        ]
        options = options[:OPTIONS_PER_SELECT]
        super().__init__(
            placeholder="Red and green flags you saw",
            min_values=0,
            max_values=len(options),
            options=options,
        )
        self.draft = draft

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Keep the flags picked."""
        self.draft.flags = list(self.values)
        await interaction.response.defer()


class CommentModal(discord.ui.Modal):
    """The comment for the candidate; submitting sends the whole scorecard."""

    def __init__(self, client: StudyBotDiscord, draft: ScorecardDraft) -> None:
        super().__init__(title="Mock scorecard")
        self._client = client
        self.draft = draft
        self.comment: discord.ui.TextInput[CommentModal] = discord.ui.TextInput(
            label="Comment for the candidate",
            style=discord.TextStyle.paragraph,
            required=False,
            max_length=2000,
        )
        self.add_item(self.comment)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        """Run /mock scorecard with the picks and the comment."""
        args = self.draft.args(self.comment.value or "")
        await self._client.run_command(interaction, SCORECARD_PATH, args, ask_for_text=False)


class CommentButton(discord.ui.Button[discord.ui.View]):
    """Open the comment modal."""

    def __init__(self, client: StudyBotDiscord, draft: ScorecardDraft) -> None:
        super().__init__(label="Add a comment and send", style=discord.ButtonStyle.primary)
        self._client = client
        self.draft = draft

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Ask for the comment."""
        await interaction.response.send_modal(CommentModal(self._client, self.draft))


def scorecard_views(client: StudyBotDiscord, form: Form) -> list[discord.ui.View]:
    """Return the scorecard's messages' views: five rows each, the send button last."""
    aspects, scale, reds, greens = form
    draft = ScorecardDraft(list(aspects))
    items: list[discord.ui.Item[discord.ui.View]] = [
        AspectSelect(draft, aspect, scale) for aspect in aspects
    ]
    items.append(FlagsSelect(draft, reds, greens))
    items.append(CommentButton(client, draft))
    views: list[discord.ui.View] = []
    for start in range(0, len(items), ROWS_PER_MESSAGE):
        view = discord.ui.View(timeout=60 * 60)
        for item in items[start : start + ROWS_PER_MESSAGE]:
            view.add_item(item)
        views.append(view)
    return views


async def open_scorecard(client: StudyBotDiscord, interaction: discord.Interaction[Any]) -> None:
    """Send the interviewer the scorecard's select menus, privately."""
    bot = client.bot
    if bot is None:
        raise StudyBotError("StudyBot is starting; try again in a moment.")
    views = scorecard_views(client, bot.mocks.scorecard_form())
    await interaction.response.send_message(
        "Rate the candidate on each aspect, tick the flags, then add a comment and send.",
        view=views[0],
        ephemeral=True,
    )
    for view in views[1:]:
        await interaction.followup.send(view=view, ephemeral=True)
