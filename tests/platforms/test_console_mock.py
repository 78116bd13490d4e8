"""The console runs a whole mock with two simulated members on a fast clock."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime
from typing import Any

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsoleFace
from bot.settings import load_settings


async def test_a_simulated_mock_runs_start_to_scorecard(db: Any) -> None:
    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )
    out = io.StringIO()
    face = ConsoleFace(bot, stdin=io.StringIO(), stdout=out)
    await face.ensure_cohort()
    await face.handle_line("/mock simulate 1200")
    text = out.getvalue()
    phases = ["Clarify", "High-Level Design", "Deep Dive", "Scale & Reliability", "Wrap Up"]
    # On a loaded machine an announcement may come late; it then says how long ago.
    positions = [re.search(rf"{re.escape(n)}\**:? beg", text).start() for n in phases]
    assert positions == sorted(positions)
    assert "Interviewer brief" in text  # the brief went to the interviewer privately
    assert "Requirements? (not yet / good = hire / great = strong hire)" in text
    assert "Your mock scorecard" in text and "Scorecard saved" in text
    await face.handle_line("/mock history")
    assert "✗" not in out.getvalue()


async def test_simulation_is_console_only(db: Any) -> None:
    from bot.commands import dispatch
    from bot.errors import InvalidInput
    from bot.services.context import Actor

    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )
    actor = Actor("slack", "T1", "C1", "U1", "Ann")
    try:
        await dispatch(bot, actor, "mock simulate", {})
    except InvalidInput as exc:
        assert "Only the local console" in str(exc)
    else:
        raise AssertionError("a Slack member could simulate a mock")
