"""Spaced review: graded questions enter the deck, FSRS schedules them, /review serves them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import dispatch
from bot.domain.review_rating import AGAIN, EASY, GOOD, HARD, rating_for
from bot.services.context import Actor
from bot.settings import load_settings
from bot.store.models import ReviewCard

ADMIN = Actor("console", "local", "study", "admin", "Admin", is_workspace_admin=True)
BOB = Actor("console", "local", "study", "bob", "Bob")
STRONG = (
    "Adam keeps two moments, m and v, in FP32: 8 bytes per parameter on top of the weights and "
    "gradients. For a 7B model that is 56 GB of optimizer state. AdamW decouples weight decay "
    "from the gradient and applies it directly to the parameter update."
)
WEAK = "Adam stores some extra state for each parameter."


def test_verdicts_and_score_become_the_rating() -> None:
    assert rating_for(1.0, ["covered", "covered"]) == EASY
    assert rating_for(0.95, ["covered", "partial"]) == GOOD
    assert rating_for(0.5, ["covered", "missing"]) == HARD
    assert rating_for(0.1, ["missing"]) == AGAIN


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )


async def cards(bot: StudyBot) -> list[ReviewCard]:
    async with bot.sessions() as session:
        return list((await session.execute(select(ReviewCard))).scalars().all())


async def test_a_weak_answer_comes_back_sooner_than_a_strong_one_and_review_serves_it(
    bot: StudyBot,
) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": WEAK})
    await dispatch(bot, ADMIN, "answer", {"id": "E1-005", "text": STRONG})
    weak, strong = sorted(await cards(bot), key=lambda c: c.member_id, reverse=True)
    assert weak.last_rating is not None and strong.last_rating is not None
    assert weak.last_rating < strong.last_rating and weak.due < strong.due
    assert weak.reviews == 1 and weak.card["state"] >= 1  # a real FSRS card, stored whole
    nothing = await dispatch(bot, BOB, "review", {})
    assert "Nothing to review right now" in nothing.messages[0].text
    bot.clock.advance(days=1)  # type: ignore[attr-defined]
    due = (await dispatch(bot, BOB, "review", {})).messages[0]
    assert due.header == "Review E1-005" and due.buttons[0].value == "/answer E1-005"
    # Answering it again reviews the same card.
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    (again,) = [c for c in await cards(bot) if c.member_id == weak.member_id]
    assert again.reviews == 2 and again.due > bot.clock.now() + timedelta(hours=1)
