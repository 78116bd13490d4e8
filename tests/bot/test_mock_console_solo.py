"""The console runs a whole solo mock: StudyBot interviews a simulated candidate."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsoleFace
from bot.settings import load_settings
from bot.store import mocks as repo


async def test_a_simulated_solo_mock_runs_start_to_scorecard(db: Any) -> None:
    bot = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )
    out = io.StringIO()
    face = ConsoleFace(bot, stdin=io.StringIO(), stdout=out)
    await face.ensure_cohort()
    await face.handle_line("/mock simulate 240 yes")
    text = out.getvalue()
    assert "I'm StudyBot, your interviewer today" in text
    assert "Cay (simulated): What type of models" in text
    assert "Let me push on one thing" in text  # a trap question in the deep dive
    assert "Your solo mock scorecard" in text and "Solo mock 1 over" in text
    async with db.sessions() as s:
        turns = await repo.turns(s, room_id=1)
        room = await repo.get_room(s, room_id=1)
    assert room is not None and room.status == "closed" and "solo" in room.scorecard
    assert [t.key for t in turns if t.key.startswith("p:")] == [
        "p:clarify",
        "p:high-level-design",
        "p:deep-dive",
        "p:scale-reliability",
        "p:wrap-up",
    ]
    assert "✗" not in text
