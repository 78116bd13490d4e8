"""A message with no face to carry it is never dropped silently: the operator reads an error."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.daily import DailyService
from content import load_library

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
ADMIN = Actor("slack", "T1", "C1", "U1", "Ada", is_workspace_admin=True)


async def test_a_missed_post_alert_without_a_face_is_logged_as_an_error(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START - timedelta(minutes=1))
    await CohortService(db.sessions, clock).setup(
        ADMIN, timezone="Europe/Berlin", post_time="08:00", start_date="2026-12-01"
    )
    service = DailyService(db.sessions, load_library(), {}, clock=clock, grace=timedelta(hours=6))
    with caplog.at_level(logging.ERROR, logger="bot.services.daily"):
        report = await service.publish_due(START + timedelta(hours=7))
    assert report.missed
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "no slack face is running" in record.getMessage()
    assert "Day 1 was not posted" in record.getMessage()


async def test_a_grade_dm_without_a_face_is_logged_as_an_error_and_kept_untold(
    db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.services.answers import AnswerService
    from bot.store.models import Answer

    clock = FakeClock(START)
    await CohortService(db.sessions, clock).setup(
        ADMIN, timezone="Europe/Berlin", post_time="08:00", start_date="2026-12-01"
    )
    service = AnswerService(
        db.sessions,
        load_library(),
        clock,
        lambda key: None,
        publishers={},  # type: ignore[arg-type,return-value]
    )
    async with db.sessions() as session:
        answer = Answer(
            cohort_id=1,
            question_id="E1-001",
            text="x",
            status="graded",
            graded_at=START - timedelta(minutes=5),
            reply_to={"platform": "slack", "user_id": "U1"},
        )
        session.add(answer)
        await session.commit()
        answer_id = answer.id
    with caplog.at_level(logging.ERROR, logger="bot.services.answers"):
        assert await service.tell_untold() == 0
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "no slack publisher" in record.getMessage() and "U1" in record.getMessage()
    async with db.sessions() as session:
        stored = await session.get(Answer, answer_id)
        assert stored is not None and stored.told_at is None  # told once a slack face is up
