"""/healthz and /metrics over real HTTP: database-backed gauges, grading and judging measured."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.metrics import MeasuredGrader, MeasuredRunner, TrackedScheduler
from bot.settings import Settings
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Cohort, DayPost, MockAnnouncement, MockRoom, Submission

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


class IdleScheduler:
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass


def value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name + (f"{{{labels}}}" if labels else "")) + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    assert match, f"{name} {labels} not in metrics:\n{text}"
    return float(match.group(1))


async def seed(bot: StudyBot) -> None:
    async with bot.sessions() as session:
        cohort = Cohort(
            name="c",
            platform="slack",
            workspace_id="T",
            channel_id="C",
            start_date=date(2026, 12, 1),
        )
        session.add(cohort)
        await session.flush()
        assert cohort.id is not None
        session.add(
            DayPost(
                cohort_id=cohort.id,
                day=1,
                status="posted",
                scheduled_for=NOW,
                posted_at=NOW + timedelta(seconds=42),
            )
        )
        session.add(DayPost(cohort_id=cohort.id, day=2, status="failed", scheduled_for=NOW))
        for n, age in enumerate((90, 30)):
            session.add(
                Submission(
                    job_id=f"j{n}",
                    cohort_id=cohort.id,
                    drill_id="lru_cache",
                    source="x",
                    created_at=NOW - timedelta(seconds=age),
                )
            )
        session.add(
            Submission(
                job_id="j9",
                cohort_id=cohort.id,
                drill_id="lru_cache",
                source="x",
                status="done",
                created_at=NOW - timedelta(hours=1),
            )
        )
        room = MockRoom(
            cohort_id=cohort.id, status="running", next_due_at=NOW - timedelta(seconds=7)
        )
        session.add(room)
        session.add(MockRoom(cohort_id=cohort.id, status="finished"))
        await session.flush()
        assert room.id is not None
        session.add(
            MockAnnouncement(room_id=room.id, key="p1", kind="phase", phase="intro", due_at=NOW)
        )
        await session.commit()


async def test_metrics_and_health_over_http(db: Any) -> None:
    settings = Settings(metrics_port=0)
    bot = StudyBot(settings=settings, engine=db.engine, sessions=db.sessions, clock=FakeClock(NOW))
    await seed(bot)
    scheduler = TrackedScheduler(IdleScheduler())
    async with bot.metrics_endpoint(scheduler) as port, aiohttp.ClientSession() as http:
        base = f"http://127.0.0.1:{port}"
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 503
            assert "scheduler not running" in await response.text()
        await scheduler.start()
        async with http.get(f"{base}/healthz") as response:
            assert response.status == 200
            assert "database: reachable" in await response.text()
        async with http.get(f"{base}/metrics") as response:
            assert response.status == 200
            text = await response.text()
    assert value(text, "studybot_submission_queue_depth", 'device_kind="cpu"') == 2
    assert value(text, "studybot_submission_oldest_queued_seconds") == 90
    assert value(text, "studybot_mock_rooms_open", 'status="running"') == 1
    assert value(text, "studybot_mock_timer_lateness_seconds") == 7
    assert value(text, "studybot_posts", 'status="posted"') == 1
    assert value(text, "studybot_posts", 'status="failed"') == 1
    assert value(text, "studybot_mock_announcements", 'status="sent"') == 1
    assert value(text, "studybot_daily_post_lateness_seconds") == 42


async def test_health_names_an_unreachable_database(pg_url: str) -> None:
    url = re.sub(r"@[^/]+/", "@127.0.0.1:1/", pg_url)
    engine = make_engine(url)
    bot = StudyBot(
        settings=Settings(metrics_port=0),
        engine=engine,
        sessions=make_session_factory(engine),
        clock=FakeClock(NOW),
    )
    scheduler = TrackedScheduler(IdleScheduler())
    await scheduler.start()
    try:
        async with bot.metrics_endpoint(scheduler) as port, aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 503
                body = await response.text()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as response:
                assert response.status == 200  # what the process knows is still served
                assert value(await response.text(), "studybot_metrics_scrape_errors_total") == 1
    finally:
        await engine.dispose()
    assert "database unreachable" in body and "scheduler" not in body.splitlines()[0]


@dataclass
class FakeGrade:
    tokens_used: int


class TokenGrader:
    async def grade(self, question: object, answer: str) -> FakeGrade:
        if answer == "boom":
            raise RuntimeError("grader down")
        return FakeGrade(tokens_used=len(answer))


@dataclass
class FakeResult:
    job_id: str
    verdict: str
    duration_s: float


@dataclass
class FakeStatus:
    result: FakeResult | None


class FinishedRunner:
    async def wait(self, task_id: str, **_: object) -> FakeResult:
        return FakeResult(task_id, "passed", 1.5)

    async def status(self, task_id: str) -> FakeStatus:
        return FakeStatus(FakeResult(task_id, "failed", 3.0))


async def test_grading_and_judging_are_measured_once_per_job() -> None:
    bot_metrics = StudyBot.__dataclass_fields__["metrics"].default_factory()  # type: ignore[misc]
    grader = MeasuredGrader(TokenGrader(), bot_metrics, "cascade")
    await grader.grade(None, "twelve chars")
    with pytest.raises(RuntimeError):
        await grader.grade(None, "boom")
    runner = MeasuredRunner(FinishedRunner(), bot_metrics)
    await runner.wait("job-1")
    await runner.wait("job-1")  # the same job read twice counts once
    await runner.status("job-2")
    text = bot_metrics.render().decode()
    assert value(text, "studybot_llm_tokens_total", 'grader="cascade"') == 12
    assert value(text, "studybot_grading_seconds_count", 'grader="cascade"') == 1
    assert value(text, "studybot_grading_failures_total", 'grader="cascade"') == 1
    assert value(text, "studybot_judge_seconds_count", 'verdict="passed"') == 1
    assert value(text, "studybot_judge_seconds_sum", 'verdict="failed"') == 3.0
