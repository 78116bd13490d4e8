"""Serve the chat faces whose tokens are set, with the scheduler, in one process.

The order matters: the app is built once; the process heartbeat starts; the faces start and
register their publishers; only then does the scheduler start, so its first pass after a
restart posts what is due instead of deferring every post for want of a publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bot.app import StudyBot, build_app
from bot.clock import Clock
from bot.errors import StudyBotError, Unavailable
from bot.metrics import TrackedScheduler

if TYPE_CHECKING:
    from bot.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Face:
    """A chat face to run: the platform it registers a publisher for, and how to run it."""

    platform: str
    run: Callable[[StudyBot], Coroutine[Any, Any, None]]


class Scheduler(Protocol):
    """What `serve` needs of the scheduler."""

    async def start(self) -> None:
        """Start the jobs and catch up on what is due."""
        ...

    async def stop(self) -> None:
        """Stop the jobs."""
        ...


def configured_faces(settings: Settings) -> list[Face]:
    """Return the faces whose tokens are set."""
    faces = []
    if settings.discord.token:
        from bot.platforms.discord_app import run_discord

        faces.append(Face("discord", run_discord))
    if settings.slack.bot_token:
        from bot.platforms.slack_app import run_slack

        faces.append(Face("slack", run_slack))
    return faces


def process_heartbeat(bot: StudyBot) -> AbstractAsyncContextManager[object]:
    """Return what keeps this process's heartbeat fresh while it serves (see `bot.heartbeat`)."""
    return bot.process_heartbeat()


async def serve(
    bot: StudyBot,
    faces: Sequence[Face],
    scheduler: Scheduler,
    *,
    heartbeat: AbstractAsyncContextManager[object] | None = None,
) -> None:
    """Run the faces until one stops; start the scheduler once all have their publishers."""
    async with heartbeat or contextlib.nullcontext():
        tasks = [asyncio.create_task(face.run(bot), name=f"face:{face.platform}") for face in faces]
        ready = asyncio.create_task(bot.publishers.wait_for(face.platform for face in faces))
        started = False
        try:
            done, _ = await asyncio.wait([ready, *tasks], return_when=asyncio.FIRST_COMPLETED)
            if ready not in done:
                for task in done:
                    task.result()  # a face that failed to start says why
                raise Unavailable("A chat face stopped before it registered its publisher.")
            log.info("faces ready (%s); starting the scheduler", ", ".join(bot.publishers))
            await scheduler.start()
            started = True
            await asyncio.gather(*tasks)
        finally:
            ready.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(ready, *tasks, return_exceptions=True)
            if started:
                await scheduler.stop()


async def run_platforms(settings: Settings, clock: Clock) -> None:
    """Run Discord and/or Slack until one of them stops; the scheduler runs beside them."""
    from bot.mock_timing import with_mock_timers
    from bot.scheduling import DailyScheduler

    try:
        bot = await build_app(settings, clock=clock)
    except StudyBotError as exc:
        raise SystemExit(f"error: {exc}") from None
    bot.warm_graders()
    from bot.platforms.web import serving_dashboard

    scheduler = TrackedScheduler(with_mock_timers(bot, DailyScheduler(bot)))
    try:
        async with bot.metrics_endpoint(scheduler), serving_dashboard(bot):
            # the dashboard only when STUDYBOT_WEB_PORT is set; metrics only with their port
            await serve(
                bot, configured_faces(settings), scheduler, heartbeat=process_heartbeat(bot)
            )
    finally:
        await bot.close()
