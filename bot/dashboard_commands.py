"""The dashboard command: /dashboard answers privately with a short-lived sign-in link.

Registered in the one catalogue (`bot.commands`) by importing this module there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.commands import command
from bot.messages import Message, Reply
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot


@command("dashboard", "Get a private link to the cohort's web dashboard (opens once, briefly)")
async def _dashboard(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    link = await bot.dashboard.issue_link(actor)
    minutes = max(1, round(bot.dashboard.link_ttl.total_seconds() / 60))
    once = " and opens once" if bot.dashboard.single_use else ""
    return Reply.of(
        Message(
            header="Your dashboard link",
            text=f"{link.url}\nIt works for {minutes} minute(s){once}; ask again for a new one.",
            footer="Keep it to yourself: it signs you in as you.",
        ),
        ephemeral=True,
    )
