"""The console runs a whole mock with two simulated members on a fast clock."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsoleFace
from bot.settings import load_settings


def _console(db: Any) -> tuple[ConsoleFace, io.StringIO]:
    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )
    out = io.StringIO()
    return ConsoleFace(bot, stdin=io.StringIO(), stdout=out), out


async def test_a_simulated_mock_runs_start_to_scorecard(db: Any) -> None:
    face, out = _console(db)
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


@pytest.mark.timeout(120)
async def test_a_fast_simulation_ends_when_every_fence_check_is_slow(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 10 ms a check is 12 s of a clock 1200 times fast: more than the bot's 5 s send window
    # read on the fast clock. The simulation's windows are real seconds, so it still ends.
    from bot.store import claims

    fence = claims.fence

    async def slow_fence(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.01)
        await fence(*args, **kwargs)

    monkeypatch.setattr(claims, "fence", slow_fence)
    face, out = _console(db)
    await face.ensure_cohort()
    await face.handle_line("/mock simulate 1200")
    assert "Scorecard saved" in out.getvalue()


async def test_a_simulation_whose_timer_never_ends_the_room_stops_with_a_sentence(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.mock_demo import SIMULATION_LIMIT_MIN
    from bot.services.mocks import MockTimers

    async def stuck(self: MockTimers) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(MockTimers, "run", stuck)
    face, out = _console(db)
    await face.ensure_cohort()
    await face.handle_line("/mock simulate 6000")  # 180 simulated minutes: about 2 s
    text = out.getvalue()
    assert f"did not end within {SIMULATION_LIMIT_MIN} simulated minutes" in text
    assert "Traceback" not in text and "Scorecard saved" not in text


async def test_a_simulation_whose_timer_fails_says_so_instead_of_waiting(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.services.mocks import MockTimers

    async def broken(self: MockTimers) -> None:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(MockTimers, "run", broken)
    face, out = _console(db)
    await face.ensure_cohort()
    await asyncio.wait_for(face.handle_line("/mock simulate 1200"), timeout=60)
    text = out.getvalue()
    assert "Scorecard saved" not in text and "Traceback" not in text
    assert "something went wrong on our side" in text  # one sentence, the error logged
