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
from bot.services.answers import AnswerService
from bot.services.cohorts import CohortService
from bot.services.daily import DailyService
from bot.services.reviews import ReviewService
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import pending_message

if TYPE_CHECKING:
    from content import Library
    from graders import Grader, LLMConfig

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

    @cached_property
    def llm_config(self) -> LLMConfig | None:
        """Return the LLM endpoint for grading, when one is configured."""
        if not self.settings.llm_configured:
            return None
        from graders import LLMConfig

        kwargs: dict[str, object] = {
            "base_url": self.settings.llm.base_url or "https://api.openai.com/v1",
            "model": self.settings.grader.model,
            "timeout_s": self.settings.grader.timeout_s,
            "deadline_s": self.settings.grader.deadline_s,
            "response_format": self.settings.grader.response_format,
        }
        if self.settings.llm.api_key:
            kwargs["api_key"] = self.settings.llm.api_key
        return LLMConfig(**kwargs)  # type: ignore[arg-type]

    @property
    def grader_kind(self) -> str:
        """Return the grader to use: the setting, or cascade with an LLM and offline without."""
        kind = self.settings.grader.kind
        if kind == "auto":
            return "cascade" if self.llm_config is not None else "offline"
        return kind

    @cached_property
    def _grade_stores(self) -> tuple[object, object]:
        from graders import MemoryGradeCache, MemoryTokenBudget, RedisGradeCache, RedisTokenBudget

        budget_limit = self.settings.grader.daily_token_budget
        if self.settings.redis_url:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(self.settings.redis_url)
            return RedisGradeCache(client), RedisTokenBudget(client, budget_limit)
        return MemoryGradeCache(), MemoryTokenBudget(budget_limit)

    def grader_for(self, budget_key: str) -> Grader:
        """Build the configured grader, with the shared cache and the cohort's token budget."""
        from graders import build_grader

        cache, budget = self._grade_stores
        return build_grader(
            self.grader_kind,  # type: ignore[arg-type]
            llm=self.llm_config,
            cache=cache,  # type: ignore[arg-type]
            budget=budget,  # type: ignore[arg-type]
            budget_key=budget_key,
        )

    def warm_graders(self) -> None:
        """Start loading the offline grader's models in the background (first answers are fast)."""
        from graders import warm_up

        warm_up()

    @cached_property
    def reviews(self) -> ReviewService:
        """Return the grade review service."""
        return ReviewService(self.sessions, self.clock)

    @cached_property
    def answers(self) -> AnswerService:
        """Return the answer service."""
        return AnswerService(
            self.sessions,
            self.library,
            self.clock,
            self.grader_for,
            llm=self.llm_config,
            publishers=self.publishers,
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
