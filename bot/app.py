"""The composition root: builds the store, the grader, the services and the publisher registry.

Everything here is built once per process. The faces and the scheduler get the same frozen
`Services`; faces register their publishers in the one `PublisherRegistry`; the grader is built
here once and handed to the answer service (which never calls back into the app).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.domain.claims import ClaimPolicy
from bot.errors import StudyBotError, Unavailable, translated_errors
from bot.heartbeat import Heartbeat
from bot.messages import Publisher
from bot.metrics import MeasuredGrader, MeasuredRunner, Metrics, MetricsServer, TrackedScheduler
from bot.services.admin import AdminService
from bot.services.answers import AnswerService
from bot.services.cohorts import CohortService
from bot.services.daily import DailyService
from bot.services.dashboard import DashboardService
from bot.services.mocks import MockService
from bot.services.reviews import ReviewService
from bot.services.solo_mocks import SoloMocks
from bot.services.submissions import SubmissionService
from bot.settings import Settings, mask_secrets
from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import pending_message

if TYPE_CHECKING:
    from bot.services.recap import RecapService
    from bot.services.review_deck import ReviewDeckService
    from bot.services.standings import StandingsService, StreakReminders
    from content import Library
    from gpu_runner.client import RunnerClient
    from graders import GradeCache, Grader, GraderKind, LLMConfig, TokenBudget

log = logging.getLogger(__name__)

PublisherListener = Callable[[str, Publisher], None]


class PublisherRegistry(Mapping[str, Publisher]):
    """The one place faces register their publishers and services find them, by platform."""

    def __init__(self) -> None:
        self._publishers: dict[str, Publisher] = {}
        self._listeners: list[PublisherListener] = []
        self._changed = asyncio.Event()

    def __getitem__(self, platform: str) -> Publisher:
        return self._publishers[platform]

    def __iter__(self) -> Iterator[str]:
        return iter(self._publishers)

    def __len__(self) -> int:
        return len(self._publishers)

    def register(self, platform: str, publisher: Publisher) -> None:
        """Register a face's publisher for posts to its platform."""
        self._publishers[platform] = publisher
        log.info("%s publisher registered", platform)
        for listener in self._listeners:
            listener(platform, publisher)
        self._changed.set()

    def on_register(self, listener: PublisherListener) -> None:
        """Call `listener` for every publisher registered now and later."""
        self._listeners.append(listener)
        for platform, publisher in self._publishers.items():
            listener(platform, publisher)

    def require(self, platform: str) -> Publisher:
        """Return the platform's publisher, or say clearly that no face for it is running."""
        publisher = self._publishers.get(platform)
        if publisher is None:
            log.error("no %s publisher is registered", platform)
            raise Unavailable(f"No {platform} face is running, so nothing can be posted there.")
        return publisher

    async def wait_for(self, platforms: Iterable[str]) -> None:
        """Return once every one of these platforms has a registered publisher."""
        wanted = set(platforms)
        while not wanted <= self._publishers.keys():
            self._changed.clear()
            await self._changed.wait()


class CohortGraders:
    """The configured grader, built once: one instance per cohort token budget.

    The offline model, the grade cache and the token budget store are shared by all of them.
    """

    def __init__(
        self,
        kind: GraderKind,
        *,
        llm: LLMConfig | None,
        cache: GradeCache | None,
        budget: TokenBudget | None,
        metrics: Metrics | None = None,
    ) -> None:
        self.kind = kind
        self._metrics = metrics
        self._llm = llm
        self._cache = cache
        self._budget = budget
        self._by_key: dict[str, Grader] = {}
        self.for_cohort(None)  # a misconfigured grader fails at start, not at the first answer

    def for_cohort(self, cohort_id: int | None) -> Grader:
        """Return the grader that spends this cohort's token budget."""
        from graders import build_grader

        key = f"cohort:{cohort_id or 0}"
        grader = self._by_key.get(key)
        if grader is None:
            grader = build_grader(
                self.kind, llm=self._llm, cache=self._cache, budget=self._budget, budget_key=key
            )
            if self._metrics is not None:  # grading latency and LLM tokens, per grade
                grader = MeasuredGrader(grader, self._metrics, self.kind)
            self._by_key[key] = grader
        return grader


@dataclass(frozen=True)
class Services:
    """The use cases, built once and shared by every face and the scheduler."""

    cohorts: CohortService
    daily: DailyService
    answers: AnswerService
    mocks: MockService
    submissions: SubmissionService


@dataclass
class StudyBot:
    """Everything a face needs, wired once."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    publishers: PublisherRegistry = field(default_factory=PublisherRegistry)
    metrics: Metrics = field(default_factory=Metrics)

    @cached_property
    def library(self) -> Library:
        """Return the curriculum (loaded once, on first use)."""
        from content import load_library

        return load_library()

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
        return LLMConfig(**kwargs)

    @property
    def grader_kind(self) -> GraderKind:
        """Return the grader to use: the setting, or cascade with an LLM and offline without."""
        kind = self.settings.grader.kind
        if kind == "auto":
            return "cascade" if self.llm_config is not None else "offline"
        return kind

    @cached_property
    def graders(self) -> CohortGraders:
        """Return the grader, built once with the shared cache and the per-cohort budgets."""
        from graders import MemoryGradeCache, MemoryTokenBudget, RedisGradeCache, RedisTokenBudget

        budget_limit = self.settings.grader.daily_token_budget
        cache: GradeCache
        budget: TokenBudget
        if self.settings.redis_url:
            import redis.asyncio as aioredis

            client = aioredis.Redis.from_url(self.settings.redis_url)
            cache, budget = RedisGradeCache(client), RedisTokenBudget(client, budget_limit)
        else:
            cache, budget = MemoryGradeCache(), MemoryTokenBudget(budget_limit)
        with translated_errors():  # a grader that cannot be built is a set-up error at start
            return CohortGraders(
                self.grader_kind,
                llm=self.llm_config,
                cache=cache,
                budget=budget,
                metrics=self.metrics,
            )

    @cached_property
    def services(self) -> Services:
        """Return the use cases, built on first use and the same ever after."""
        daily = DailyService(
            self.sessions,
            self.library,
            self.publishers,
            clock=self.clock,
            grace=timedelta(hours=self.settings.schedule.missed_post_grace_hours),
            policy=self.claim_policy,
        )
        # The daily service keeps its own table of publishers; feed it from the registry.
        self.publishers.on_register(daily.add_publisher)
        return Services(
            cohorts=CohortService(
                self.sessions,
                self.clock,
                days_total=self.library.days_total,
                grace=timedelta(hours=self.settings.schedule.missed_post_grace_hours),
            ),
            daily=daily,
            answers=AnswerService(
                self.sessions,
                self.library,
                self.clock,
                self.graders,
                llm=self.llm_config,
                publishers=self.publishers,
                holder=daily.holder,
                policy=self.claim_policy,
            ),
            mocks=MockService(
                self.sessions,
                self.library,
                self.clock,
                self.publishers,
                holder=daily.holder,
                policy=daily.policy,
                no_show=timedelta(minutes=self.settings.mock.no_show_minutes),
                idle_close=timedelta(minutes=self.settings.mock.idle_close_minutes),
                queue_wait=timedelta(minutes=self.settings.mock.queue_wait_minutes),
            ),
            submissions=SubmissionService(
                self.sessions,
                self.clock,
                lambda: self.runner,
                publishers=self.publishers,
                hourly_cap=self.settings.runner.hourly_cap,
                max_dispatches=self.settings.runner.max_dispatches,
                timing=self.settings.runner.timing,
                holder=daily.holder,
                policy=self.claim_policy,
            ),
        )

    @cached_property
    def runner(self) -> RunnerClient:
        """Return the runner client of the configured backend (local, or Celery over Redis)."""
        from gpu_runner.client import make_runner_client

        client = make_runner_client(
            self.settings.runner.backend, redis_url=self.settings.runner_broker_url
        )
        return MeasuredRunner(client, self.metrics)  # type: ignore[return-value]

    @contextlib.asynccontextmanager
    async def metrics_endpoint(self, scheduler: TrackedScheduler) -> AsyncIterator[int | None]:
        """Serve /healthz and /metrics while the bot runs, when STUDYBOT_METRICS_PORT is set."""
        port = self.settings.metrics_port
        if port is None:
            yield None
            return
        from bot.metrics import make_web_app

        app = make_web_app(self.metrics, self.sessions, self.clock, lambda: scheduler.running)
        server = MetricsServer(app, host=self.settings.metrics_host, port=port)
        await server.start()
        try:
            yield server.port
        finally:
            await server.stop()

    def warm_graders(self) -> None:
        """Start loading the offline grader's models in the background (first answers are fast)."""
        if self.grader_kind == "llm":
            return  # no offline stage to warm
        from graders import warm_up

        warm_up()

    @cached_property
    def dashboard(self) -> DashboardService:
        """Return the web dashboard's service (links, sessions, page data)."""
        web = self.settings.web
        return DashboardService(
            self.sessions,
            self.clock,
            lambda: self.library,
            base_url=web.public_base_url,
            secret=web.secret,
            link_ttl=timedelta(seconds=web.link_ttl_s),
            single_use=web.link_single_use,
            session_ttl=timedelta(seconds=web.session_ttl_s),
            standings=self.standings,
        )

    @cached_property
    def admin(self) -> AdminService:
        """Return the cohort admin tools (re-post, re-grade, export, erase), all audited."""
        return AdminService(
            self.sessions,
            self.clock,
            compose_day=self.daily.compose_day,
            grade_answer=self.answers.grade,
            rejudge_submission=self.submissions.rejudge,
            publishers=self.publishers,
            days_total=self.library.days_total,
        )

    @cached_property
    def reviews(self) -> ReviewService:
        """Return the grade review service."""
        return ReviewService(self.sessions, self.clock, self.library)

    @cached_property
    def standings(self) -> StandingsService:
        """Return the standings service: leaderboards, stats, streak settings."""
        from bot.services.standings import StandingsService

        return StandingsService(self.sessions, self.clock, self.library)

    @cached_property
    def streak_reminders(self) -> StreakReminders:
        """Return the opt-in streak reminders (/me remind)."""
        from bot.services.standings import StreakReminders

        return StreakReminders(self.sessions, self.clock, self.publishers)

    @cached_property
    def review_deck(self) -> ReviewDeckService:
        """Return the spaced-review deck service (/review)."""
        from bot.services.review_deck import ReviewDeckService

        return ReviewDeckService(self.sessions, self.clock, self.library)

    @cached_property
    def recaps(self) -> RecapService:
        """Return the weekly recap service (claims under the daily service's process id)."""
        from bot.services.recap import RecapService

        return RecapService(
            self.sessions,
            self.clock,
            self.standings,
            self.publishers,
            holder=self.daily.holder,
            policy=self.claim_policy,
        )

    @property
    def real_claim_policy(self) -> ClaimPolicy:
        """Return the lease and heartbeat rules of fenced claims as set, in real seconds."""
        return ClaimPolicy(
            lease_s=self.settings.schedule.claim_lease_s,
            heartbeat_interval_s=self.settings.schedule.heartbeat_interval_s,
        )

    @cached_property
    def claim_policy(self) -> ClaimPolicy:
        """Return the lease and heartbeat rules of this process's fenced claims, on its clock.

        On a demo's fast clock (`--speed`) the real seconds are scaled to it.
        """
        from bot.clock import ScaledClock

        if isinstance(self.clock, ScaledClock):
            return self.real_claim_policy.scaled(self.clock.speed)
        return self.real_claim_policy

    @contextlib.asynccontextmanager
    async def process_heartbeat(self) -> AsyncIterator[Heartbeat]:
        """Keep this process's heartbeat fresh, so its claims are taken over as soon as it stops."""
        heartbeat = Heartbeat(
            self.sessions,
            self.clock,
            process_id=self.daily.holder,
            interval_s=self.claim_policy.heartbeat_interval_s,
        )
        await heartbeat.start()
        try:
            yield heartbeat
        finally:
            await heartbeat.stop()

    @property
    def cohorts(self) -> CohortService:
        """Return the cohort service."""
        return self.services.cohorts

    @property
    def daily(self) -> DailyService:
        """Return the daily-post service."""
        return self.services.daily

    @property
    def answers(self) -> AnswerService:
        """Return the answer service."""
        return self.services.answers

    @property
    def mocks(self) -> MockService:
        """Return the mock interview service."""
        return self.services.mocks

    @property
    def submissions(self) -> SubmissionService:
        """Return the drill submission service."""
        return self.services.submissions

    # --- solo mocks (StudyBot as the interviewer) ---

    @cached_property
    def solo(self) -> SoloMocks:
        """Return the solo mocks, on the LLM interviewer when one is configured."""
        from graders import MemoryTokenBudget, RedisTokenBudget
        from graders.embeddings import default_embedder
        from graders.interviewer import GuardedInterviewer, LLMInterviewer, ScriptedInterviewer

        mock = self.settings.mock
        embedder = default_embedder()
        llm = None
        budget: TokenBudget | None = None
        if mock.solo_llm and self.llm_config is not None:
            llm = LLMInterviewer(self.llm_config)
            if self.settings.redis_url:
                budget = RedisTokenBudget.from_url(
                    self.settings.redis_url, mock.solo_daily_tokens, prefix="studybot:solo:tokens"
                )
            else:
                budget = MemoryTokenBudget(mock.solo_daily_tokens)
        engine = GuardedInterviewer(ScriptedInterviewer(embedder), embedder, llm=llm, budget=budget)
        return SoloMocks(self.mocks, engine, embedder, token_cap=mock.solo_token_cap, budget=budget)

    def add_publisher(self, platform: str, publisher: Publisher) -> None:
        """Register a face's publisher for posts to its platform."""
        self.publishers.register(platform, publisher)

    async def close(self) -> None:
        """Release the runner's and the database's connections."""
        if "runner" in self.__dict__:
            await self.runner.close()
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
            raise Unavailable(
                mask_secrets(f"Cannot reach the database at {settings.db.url}: {exc}", settings),
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
