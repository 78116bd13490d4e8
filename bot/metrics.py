"""Prometheus metrics and the health check, served on STUDYBOT_METRICS_PORT.

What the database knows (queue depth, the oldest queued submission, open mock rooms, overdue
timers, posts made and failed) is read from it at scrape time, so every bot process reports
the same truth and nothing is lost on a restart. What only the process sees (how long a grade
took, how many LLM tokens it spent, how long a judging took and its verdict) is measured by
thin wrappers put around the grader and the runner client in the composition root.

    GET /healthz  200 "ok" or 503 naming the failing part (database, scheduler)
    GET /metrics  Prometheus text format
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

if TYPE_CHECKING:
    from aiohttp import web
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.clock import Clock

log = logging.getLogger(__name__)

OPEN_ROOM_STATES = ("waiting", "matched", "running", "paused", "scoring")
HEALTH_DB_TIMEOUT_S = 3.0


class Metrics:
    """This process's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.grading_seconds = Histogram(
            "studybot_grading_seconds",
            "Time to grade one answer, by grader.",
            ["grader"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
            registry=r,
        )
        self.grading_failures = Counter(
            "studybot_grading_failures_total",
            "Grades that raised, by grader.",
            ["grader"],
            registry=r,
        )
        self.llm_tokens = Counter(
            "studybot_llm_tokens_total",
            "LLM tokens spent grading, by grader.",
            ["grader"],
            registry=r,
        )
        self.judge_seconds = Histogram(
            "studybot_judge_seconds",
            "Time the runner took to judge a submission, by verdict.",
            ["verdict"],
            buckets=(0.5, 1, 2, 5, 10, 20, 40, 80, 160),
            registry=r,
        )
        self.posts = Gauge(
            "studybot_posts",
            "Daily posts by status (posted, failed, missed, claimed), from the database.",
            ["status"],
            registry=r,
        )
        self.announcements = Gauge(
            "studybot_mock_announcements",
            "Mock phase announcements by status (sent, dropped), from the database.",
            ["status"],
            registry=r,
        )
        self.queue_depth = Gauge(
            "studybot_submission_queue_depth",
            "Submissions queued for the runner, by device kind.",
            ["device_kind"],
            registry=r,
        )
        self.oldest_queued = Gauge(
            "studybot_submission_oldest_queued_seconds",
            "Age of the oldest queued submission (0 when none).",
            registry=r,
        )
        self.open_rooms = Gauge(
            "studybot_mock_rooms_open",
            "Mock rooms not yet finished, by status.",
            ["status"],
            registry=r,
        )
        self.timer_lateness = Gauge(
            "studybot_mock_timer_lateness_seconds",
            "How far past due the most overdue mock phase timer is (0 when none is late).",
            registry=r,
        )
        self.post_lateness = Gauge(
            "studybot_daily_post_lateness_seconds",
            "How late the latest daily post went out after its scheduled time.",
            registry=r,
        )
        self.scrape_errors = Counter(
            "studybot_metrics_scrape_errors_total",
            "Scrapes whose database read failed.",
            registry=r,
        )
        self._judged: OrderedDict[str, None] = OrderedDict()

    def observe_judged(self, job_id: str, verdict: str, duration_s: float) -> None:
        """Count one judged job once, however many times its result is read."""
        if job_id and job_id in self._judged:
            return
        if job_id:
            self._judged[job_id] = None
            while len(self._judged) > 10_000:
                self._judged.popitem(last=False)
        self.judge_seconds.labels(verdict=verdict).observe(duration_s)

    async def refresh_from_database(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock
    ) -> None:
        """Read what the database knows into the gauges (called at each scrape)."""
        from sqlalchemy import func, select

        from bot.store.models import DayPost, MockAnnouncement, MockRoom, Submission

        now = clock.now()
        async with sessions() as session:
            posts: dict[str, int] = dict(
                (
                    await session.execute(
                        select(DayPost.status, func.count()).group_by(DayPost.status)
                    )
                ).all()
            )
            said = dict(
                (
                    await session.execute(
                        select(MockAnnouncement.status, func.count()).group_by(
                            MockAnnouncement.status
                        )
                    )
                ).all()
            )
            queued = (
                await session.execute(
                    select(Submission.device_kind, func.count(), func.min(Submission.created_at))
                    .where(Submission.status == "queued")
                    .group_by(Submission.device_kind)
                )
            ).all()
            rooms = dict(
                (
                    await session.execute(
                        select(MockRoom.status, func.count())
                        .where(MockRoom.status.in_(OPEN_ROOM_STATES))  # type: ignore[attr-defined]
                        .group_by(MockRoom.status)
                    )
                ).all()
            )
            overdue = (
                await session.execute(
                    select(func.min(MockRoom.next_due_at)).where(
                        MockRoom.status == "running",
                        MockRoom.next_due_at < now,  # type: ignore[operator]
                    )
                )
            ).scalar()
            latest = (
                await session.execute(
                    select(DayPost.scheduled_for, DayPost.posted_at)
                    .where(DayPost.posted_at.is_not(None))  # type: ignore[union-attr]
                    .order_by(DayPost.posted_at.desc())  # type: ignore[union-attr]
                    .limit(1)
                )
            ).first()
        for status in ("posted", "failed", "missed", "claimed", *posts):
            self.posts.labels(status=status).set(posts.get(status, 0))
        for status in ("sent", "dropped", *said):
            self.announcements.labels(status=status).set(said.get(status, 0))
        self.queue_depth.clear()
        oldest: datetime | None = None
        for kind, count, first in queued:
            self.queue_depth.labels(device_kind=kind).set(count)
            first = _aware(first)
            oldest = first if oldest is None or first < oldest else oldest
        self.oldest_queued.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        self.open_rooms.clear()
        for status in OPEN_ROOM_STATES:
            self.open_rooms.labels(status=status).set(rooms.get(status, 0))
        self.timer_lateness.set((now - _aware(overdue)).total_seconds() if overdue else 0.0)
        if latest is not None:
            lateness = (_aware(latest[1]) - _aware(latest[0])).total_seconds()
            self.post_lateness.set(max(0.0, lateness))

    def render(self) -> bytes:
        """Return the metrics in Prometheus text format."""
        return generate_latest(self.registry)


def _aware(value: datetime) -> datetime:
    """Return a timestamp as UTC-aware (SQLite hands back naive UTC)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class MeasuredGrader:
    """A grader that records how long each grade took and the LLM tokens it spent."""

    def __init__(self, inner: Any, metrics: Metrics, kind: str) -> None:
        self._inner = inner
        self._metrics = metrics
        self._kind = kind

    async def grade(self, question: Any, answer: str) -> Any:
        """Grade through the wrapped grader, measuring it."""
        started = time.perf_counter()
        try:
            grade = await self._inner.grade(question, answer)
        except Exception:
            self._metrics.grading_failures.labels(grader=self._kind).inc()
            raise
        self._metrics.grading_seconds.labels(grader=self._kind).observe(
            time.perf_counter() - started
        )
        tokens = int(getattr(grade, "tokens_used", 0) or 0)
        if tokens:
            self._metrics.llm_tokens.labels(grader=self._kind).inc(tokens)
        return grade

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class MeasuredRunner:
    """A runner client that records each judged job's duration by verdict (once per job)."""

    def __init__(self, inner: Any, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def _seen(self, result: Any) -> None:
        verdict = getattr(result, "verdict", None)
        if verdict is not None:
            self._metrics.observe_judged(
                str(getattr(result, "job_id", "")), str(verdict), float(result.duration_s)
            )

    async def wait(self, task_id: str, *args: Any, **kwargs: Any) -> Any:
        """Wait through the wrapped client and count the verdict."""
        result = await self._inner.wait(task_id, *args, **kwargs)
        self._seen(result)
        return result

    async def status(self, task_id: str) -> Any:
        """Ask the wrapped client; a finished job's verdict is counted."""
        status = await self._inner.status(task_id)
        if getattr(status, "result", None) is not None:
            self._seen(status.result)
        return status

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TrackedScheduler:
    """The scheduler, remembering whether it is running (for /healthz)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.running = False

    async def start(self) -> None:
        """Start the wrapped scheduler."""
        await self._inner.start()
        self.running = True

    async def stop(self) -> None:
        """Stop the wrapped scheduler."""
        self.running = False
        await self._inner.stop()


async def health(
    sessions: async_sessionmaker[AsyncSession], scheduler_running: Callable[[], bool]
) -> tuple[bool, dict[str, str]]:
    """Check the database and the scheduler; return (healthy, part -> state)."""
    from sqlalchemy import text

    parts = {"process": "up"}
    try:
        async with asyncio.timeout(HEALTH_DB_TIMEOUT_S):
            async with sessions() as session:
                await session.execute(text("SELECT 1"))
        parts["database"] = "reachable"
    except Exception as exc:
        parts["database"] = f"unreachable ({type(exc).__name__})"
    parts["scheduler"] = "running" if scheduler_running() else "not running"
    healthy = parts["database"] == "reachable" and parts["scheduler"] == "running"
    return healthy, parts


def make_web_app(
    metrics: Metrics,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
    scheduler_running: Callable[[], bool],
) -> web.Application:
    """Return the aiohttp app serving /healthz and /metrics."""
    from aiohttp import web

    async def healthz(_request: web.Request) -> web.Response:
        healthy, parts = await health(sessions, scheduler_running)
        failing = [
            f"{name} {state}"
            for name, state in parts.items()
            if (name, state) not in (("process", "up"), ("database", "reachable"))
            and (name, state) != ("scheduler", "running")
        ]
        body = "ok\n" if healthy else "unhealthy: " + "; ".join(failing) + "\n"
        body += "".join(f"{name}: {state}\n" for name, state in parts.items())
        return web.Response(status=200 if healthy else 503, text=body)

    async def scrape(_request: web.Request) -> web.Response:
        try:
            await metrics.refresh_from_database(sessions, clock)
        except Exception:
            metrics.scrape_errors.inc()
            log.warning("metrics: the database could not be read", exc_info=True)
        return web.Response(body=metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    for path, handler in (("healthz", healthz), ("metrics", scrape)):
        app.router.add_get(f"/{path}", handler)
    return app


class MetricsServer:
    """The HTTP endpoint, started beside the faces when STUDYBOT_METRICS_PORT is set."""

    def __init__(self, app: web.Application, *, host: str, port: int) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self.port = port

    async def start(self) -> None:
        """Listen; the bound port is in `self.port` (useful with port 0)."""
        from aiohttp import web

        self._runner = web.AppRunner(self._app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        server = site._server
        if server is not None and getattr(server, "sockets", None):
            self.port = int(server.sockets[0].getsockname()[1])
        log.info("metrics and health served on http://%s:%s", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
