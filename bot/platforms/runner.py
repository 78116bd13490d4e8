"""Start the chat faces whose tokens are set, with the scheduler, in one process."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from bot.app import build_app
from bot.clock import Clock
from bot.errors import StudyBotError
from bot.scheduling import DailyScheduler

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)


async def run_platforms(settings: Settings, clock: Clock) -> None:
    """Run Discord and/or Slack until one of them stops; the scheduler runs beside them."""
    try:
        bot = await build_app(settings, clock=clock)
    except StudyBotError as exc:
        raise SystemExit(f"error: {exc}") from None
    bot.warm_graders()
    faces = []
    if settings.discord.token:
        from bot.platforms.discord_app import run_discord

        faces.append(run_discord(bot))
    if settings.slack.bot_token:
        from bot.platforms.slack_app import run_slack

        faces.append(run_slack(bot))
    scheduler = DailyScheduler(bot)
    try:
        await scheduler.start()
        await asyncio.gather(*faces)
    finally:
        await scheduler.stop()
        await bot.close()
