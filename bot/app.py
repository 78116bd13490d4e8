"""The composition root: builds the store, services and faces from the settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.errors import StudyBotError
from bot.messages import Publisher
from bot.services.cohorts import CohortService
from bot.services.daily import DailyService
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import pending_message

if TYPE_CHECKING:
    from content import Library

log = logging.getLogger(__name__)


@dataclass
class StudyBot:
    """Everything a face needs, wired once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    publishers: dict[str, Publisher] = field(default_factory=dict)

    @cached_property
    def library(self) -> Library:
        """Return the curriculum (loaded once, on first use)."""
        from content import load_library

        return load_library()

    @cached_property
    def cohorts(self) -> CohortService:
        """Return the cohort service."""
        return CohortService(self.sessions, self.clock, days_total=self.library.days_total)

    @cached_property
    def daily(self) -> DailyService:
        """Return the daily-post service."""
        return DailyService(
            self.sessions,
            self.library,
            self.publishers,
            clock=self.clock,
            grace=timedelta(hours=self.settings.schedule.missed_post_grace_hours),
        )

    def add_publisher(self, platform: str, publisher: Publisher) -> None:
        """Register a face's publisher for posts to its platform."""
        self.publishers[platform] = publisher
        self.daily.add_publisher(platform, publisher)

    async def close(self) -> None:
        """Release the database connections."""
        await self.engine.dispose()


async def build_app(
    settings: Settings, *, clock: Clock | None = None, check_migrations: bool = True
) -> StudyBot:
    """Build the bot; refuse to start on a database that is not migrated to head."""
    engine = make_engine(settings.db.url, echo=settings.db.echo)
    if check_migrations:
        try:
            problem = await pending_message(engine)
        except Exception as exc:
            await engine.dispose()
            raise StudyBotError(
                f"Cannot reach the database at {settings.db.url}: {exc}",
                hint="Check STUDYBOT_DB_URL.",
            ) from exc
        if problem:
            await engine.dispose()
            raise StudyBotError(problem)
    return StudyBot(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        clock=clock or SystemClock(),
    )
