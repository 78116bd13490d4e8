"""The composition root and the process: services built once, one publisher registry, the
grader built once, and the scheduler started only after the faces registered their publishers."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.errors import Unavailable
from bot.platforms.console import ConsolePublisher
from bot.scheduling import DailyScheduler
from bot.serve import Face, serve
from bot.services.context import Actor
from bot.settings import load_settings

ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC)),
    )


def test_services_are_built_once_and_frozen(bot: StudyBot) -> None:
    services = bot.services
    assert bot.services is services
    assert (bot.cohorts, bot.daily, bot.answers) == (
        services.cohorts,
        services.daily,
        services.answers,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        services.answers = None  # type: ignore[misc]


def test_the_grader_is_built_once_and_handed_to_the_answer_service(bot: StudyBot) -> None:
    assert bot.answers._graders is bot.graders
    first = bot.graders.for_cohort(1)
    assert bot.graders.for_cohort(1) is first
    assert bot.graders.for_cohort(2) is not first  # its own token budget


def test_a_grader_that_cannot_be_built_fails_at_start_with_a_sentence(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDYBOT_GRADER_KIND", "llm")
    app = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, tzinfo=UTC)),
    )
    with pytest.raises(Unavailable, match="needs an LLM endpoint"):
        app.graders  # noqa: B018


def test_one_registry_feeds_every_service(bot: StudyBot, caplog: pytest.LogCaptureFixture) -> None:
    publisher = ConsolePublisher(io.StringIO())
    bot.add_publisher("console", publisher)
    assert bot.publishers["console"] is publisher
    assert bot.daily._publishers["console"] is publisher
    assert bot.answers._publishers["console"] is publisher
    late = ConsolePublisher(io.StringIO())
    bot.add_publisher("slack", late)  # registered after the services were built
    assert bot.daily._publishers["slack"] is late and bot.answers._publishers["slack"] is late
    with caplog.at_level(logging.ERROR), pytest.raises(Unavailable, match="No discord face"):
        bot.publishers.require("discord")
    assert "no discord publisher is registered" in caplog.text


class RecordingScheduler:
    """Records which publishers existed when it was started."""

    def __init__(self, bot: StudyBot) -> None:
        self.bot = bot
        self.seen: list[set[str]] = []
        self.stopped = False
        self.started = asyncio.Event()

    async def start(self) -> None:
        self.seen.append(set(self.bot.publishers))
        self.started.set()

    async def stop(self) -> None:
        self.stopped = True


def slow_face(platform: str, stop: asyncio.Event, delay_steps: int = 5) -> Face:
    async def run(bot: StudyBot) -> None:
        for _ in range(delay_steps):  # connecting to the platform takes a while
            await asyncio.sleep(0)
        bot.add_publisher(platform, ConsolePublisher(io.StringIO()))  # type: ignore[arg-type]
        await stop.wait()

    return Face(platform, run)


async def test_the_scheduler_starts_after_every_face_registered_its_publisher(
    bot: StudyBot,
) -> None:
    stop = asyncio.Event()
    scheduler = RecordingScheduler(bot)
    faces = [slow_face("discord", stop, 3), slow_face("slack", stop, 9)]
    served = asyncio.create_task(serve(bot, faces, scheduler))
    await scheduler.started.wait()
    stop.set()
    await served
    assert scheduler.seen == [{"discord", "slack"}] and scheduler.stopped


async def test_a_face_that_fails_before_registering_stops_the_process_with_its_error(
    bot: StudyBot,
) -> None:
    async def broken(bot: StudyBot) -> None:
        raise Unavailable("Slack refused the token.")

    scheduler = RecordingScheduler(bot)
    with pytest.raises(Unavailable, match="refused the token"):
        await serve(bot, [slow_face("discord", asyncio.Event()), Face("slack", broken)], scheduler)
    assert scheduler.seen == [] and not scheduler.stopped


async def test_the_first_pass_after_a_start_posts_what_is_due(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01", post_time="08:00", timezone="UTC")
    stop = asyncio.Event()
    started = asyncio.Event()

    class Scheduler(DailyScheduler):
        async def start(self) -> None:
            await super().start()
            started.set()

    scheduler = Scheduler(bot, tick_s=3600)
    served = asyncio.create_task(serve(bot, [slow_face("console", stop)], scheduler))
    await started.wait()
    stop.set()
    await served
    first = scheduler.reports[0]
    assert first.posted == [(1, 1)] and first.deferred == []


async def test_the_process_heartbeat_runs_around_the_faces(bot: StudyBot) -> None:
    events: list[str] = []

    class Heartbeat:
        async def __aenter__(self) -> None:
            events.append("heartbeat on")

        async def __aexit__(self, *exc: object) -> None:
            events.append("heartbeat off")

    class Scheduler(RecordingScheduler):
        async def start(self) -> None:
            events.append("scheduler")

    stop = asyncio.Event()
    stop.set()
    await serve(bot, [slow_face("console", stop)], Scheduler(bot), heartbeat=Heartbeat())
    assert events == ["heartbeat on", "scheduler", "heartbeat off"]


async def test_the_app_heartbeat_registers_the_daily_holder_and_records_its_stop(
    bot: StudyBot,
) -> None:
    from bot.store import processes as process_repo

    async with bot.process_heartbeat() as heartbeat:
        assert heartbeat.process_id == bot.daily.holder
        async with bot.sessions() as session:
            row = await process_repo.get_process(session, process_id=bot.daily.holder)
        assert row is not None and row.stopped_at is None
    async with bot.sessions() as session:
        row = await process_repo.get_process(session, process_id=bot.daily.holder)
    assert row is not None and row.stopped_at is not None
