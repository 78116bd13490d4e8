"""APScheduler wiring: jobs rebuilt from the database, cron in each cohort's zone, DST-correct."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsolePublisher
from bot.scheduling import DailyScheduler, cohort_trigger
from bot.services.context import Actor
from bot.settings import load_settings

BERLIN = Actor("console", "local", "berlin", "ada", "Ada", is_workspace_admin=True)
TOKYO = Actor("console", "local", "tokyo", "ada", "Ada", is_workspace_admin=True)


def test_cron_trigger_fires_at_local_time_across_dst() -> None:
    trigger = cohort_trigger("Europe/Berlin", 8, 0, "01234")
    zone = ZoneInfo("Europe/Berlin")
    before_dst = trigger.get_next_fire_time(None, datetime(2027, 3, 26, 8, 1, tzinfo=zone))
    assert before_dst is not None
    # Friday 08:01 -> next is Monday 29 March (weekend skipped), now in summer time: 06:00 UTC.
    assert before_dst.astimezone(UTC) == datetime(2027, 3, 29, 6, 0, tzinfo=UTC)


async def test_jobs_are_rebuilt_from_the_database_on_every_change(db: Any) -> None:
    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 6, 59, tzinfo=UTC)),
    )
    out = io.StringIO()
    bot.add_publisher("console", ConsolePublisher(out))
    await bot.cohorts.setup(
        BERLIN, timezone="Europe/Berlin", post_time="08:00", start_date="2026-12-01"
    )
    scheduler = DailyScheduler(bot, tick_s=3600)
    await scheduler.start()
    try:
        assert scheduler.job_ids == ["answers", "cohort:1", "recap", "submissions", "sweep"]
        await bot.cohorts.setup(
            TOKYO, timezone="Asia/Tokyo", post_time="14:00", start_date="2026-12-01"
        )
        assert scheduler.job_ids == [
            "answers",
            "cohort:1",
            "cohort:2",
            "recap",
            "submissions",
            "sweep",
        ]
        await bot.cohorts.set_paused(BERLIN, True)
        assert scheduler.job_ids == ["answers", "cohort:2", "recap", "submissions", "sweep"]
        # The next sweep posts what is due: Tokyo's 14:00 (05:00 UTC), not paused Berlin.
        report = await scheduler.run_due()
        assert report.posted == [(2, 1)]
        assert "Day 1 of 133" in out.getvalue()
        bot.clock.advance(minutes=1)  # type: ignore[attr-defined]  # Berlin's 08:00 now
        assert (await scheduler.run_due()).posted == []
    finally:
        await scheduler.stop()


def make_bot(db: Any) -> StudyBot:
    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 7, 1, tzinfo=UTC)),
    )
    bot.add_publisher("console", ConsolePublisher(io.StringIO()))
    return bot


async def test_a_failing_pass_is_logged_and_the_scheduler_goes_on(
    db: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot(db)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database went away")

    monkeypatch.setattr(bot.daily, "publish_due", broken)
    scheduler = DailyScheduler(bot, tick_s=3600)
    with caplog.at_level("ERROR", logger="bot.scheduling"):
        report = await scheduler.run_due()
    assert report.posted == [] and "database went away" in caplog.text


async def test_a_post_another_live_process_holds_gets_a_follow_up_pass(db: Any) -> None:
    from bot.heartbeat import Heartbeat
    from bot.store import claims as claim_repo
    from bot.store.posts import day_post_key

    bot = make_bot(db)
    await bot.cohorts.setup(
        BERLIN, timezone="Europe/Berlin", post_time="08:00", start_date="2026-12-01"
    )
    await Heartbeat(db.sessions, bot.clock, process_id="other").beat()
    async with db.sessions.begin() as session:
        held = await claim_repo.acquire_claim(
            session,
            key=day_post_key(1, 1),
            holder="other",
            now=bot.clock.now(),
            policy=bot.daily.policy,
        )
    assert held is not None
    scheduler = DailyScheduler(bot, tick_s=3600)
    await scheduler.start()
    try:
        assert scheduler.reports[-1].busy == [(1, 1)]
        # planned for when the holder's heartbeat would be stale, not at the next tick
        assert "follow-up" in scheduler.job_ids
    finally:
        await scheduler.stop()
