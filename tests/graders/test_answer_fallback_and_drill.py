"""Grading edges of the answer flow: stuck answers fall back offline; coding answers get a drill."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import dispatch
from bot.messages import Channel, Message, SentMessage
from bot.services.answers import FALLBACK_NOTICE, MAX_ATTEMPTS, drill_notice
from bot.services.context import Actor
from bot.settings import load_settings
from bot.store.models import Answer, Grade
from graders import GradingDelayed, OfflineGrader, RubricQuestion

ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)
BOB = Actor("console", "local", "study", "bob", "Bob")
STRONG = (
    "Adam keeps two moments, m and v, in FP32: 8 bytes per parameter on top of the weights and "
    "gradients. For a 7B model that is 56 GB of optimizer state. AdamW decouples weight decay "
    "from the gradient and applies it directly to the parameter update."
)


class DMs:
    platform = "console"

    def __init__(self) -> None:
        self.sent: list[tuple[str, Message]] = []

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        self.sent.append((user_id, message))
        return SentMessage("dm1", user_id)

    async def find_dm(self, user_id: str, idempotency_key: str) -> None:
        return None

    async def post(self, channel: Channel, message: Message, *, idempotency_key: str) -> Any:
        raise AssertionError("not used")

    async def find_posted(self, channel: Channel, idempotency_key: str) -> None:
        return None

    async def reply_in_thread(self, channel: Channel, thread_id: str, message: Message) -> Any:
        raise AssertionError("not used")

    async def edit(self, sent: SentMessage, message: Message) -> None:
        raise AssertionError("not used")


class FailingLLM:
    """An LLM grader that fails every time, with its offline grader beside it."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.offline = OfflineGrader()
        self.calls = 0

    async def grade(self, question: RubricQuestion, answer: str) -> Any:
        self.calls += 1
        raise self.error


class Graders:
    def __init__(self, grader: Any) -> None:
        self.grader = grader

    def for_cohort(self, cohort_id: int | None) -> Any:
        return self.grader


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    app = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC)),
    )
    app.add_publisher("console", DMs())  # type: ignore[arg-type]
    return app


async def _rows(bot: StudyBot, model: Any) -> list[Any]:
    async with bot.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


@pytest.mark.parametrize(
    "error", [GradingDelayed(), ConnectionError("LLM endpoint unreachable")], ids=repr
)
async def test_an_answer_whose_llm_fails_every_try_is_graded_offline_on_the_last(
    bot: StudyBot, error: Exception
) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    failing = FailingLLM(error)
    bot.answers._graders = Graders(failing)  # type: ignore[assignment]
    reply = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert "saved" in (reply.messages[0].text or "")
    for _ in range(MAX_ATTEMPTS - 2):
        bot.clock.advance(minutes=2)  # type: ignore[attr-defined]
        assert await bot.answers.retry_pending() == 0
    (answer,) = await _rows(bot, Answer)
    assert answer.status == "pending" and answer.attempts == MAX_ATTEMPTS - 1
    # The last try: the LLM fails again, and the offline grader answers instead of nobody.
    bot.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert await bot.answers.retry_pending() == 1
    assert failing.calls == MAX_ATTEMPTS
    (answer,) = await _rows(bot, Answer)
    assert answer.status == "graded"
    (grade,) = await _rows(bot, Grade)
    notice = FALLBACK_NOTICE.format(tries=MAX_ATTEMPTS)
    assert grade.grader == "offline" and notice in grade.notices and grade.score > 0
    ((user, message),) = bot.publishers["console"].sent  # type: ignore[attr-defined]
    assert user == "bob" and notice in (message.footer or "")
    assert await bot.answers.retry_pending() == 0


async def test_an_answer_the_grader_refuses_is_not_graded_offline_instead(bot: StudyBot) -> None:
    from graders import GraderError

    failing = FailingLLM(GraderError("This answer cannot be graded."))
    bot.answers._graders = Graders(failing)  # type: ignore[assignment]
    answer = await bot.answers.submit(BOB, "E1-005", STRONG)
    assert answer.id is not None
    async with bot.sessions() as session:
        stored = await session.get(Answer, answer.id)
        assert stored is not None
        stored.attempts = MAX_ATTEMPTS - 1
        await session.commit()
    with pytest.raises(GraderError):
        await bot.answers.grade(answer.id)
    (answer_row,) = await _rows(bot, Answer)
    assert answer_row.status == "pending" and not await _rows(bot, Grade)


async def test_a_coding_answer_points_to_its_drill_and_a_concept_answer_does_not(
    bot: StudyBot,
) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    prose = (
        "Keep an OrderedDict so the entries stay in recency order. On a hit, move the key to the "
        "end; on a miss, insert it at the end and pop from the front when over capacity. Both "
        "get and put are O(1)."
    )
    reply = await dispatch(bot, BOB, "answer", {"id": "E12-474", "text": prose})
    footer = reply.messages[0].footer or ""
    assert "/submit lru_cache" in footer and "/drill template lru_cache" in footer
    concept = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert "/submit" not in (concept.messages[0].footer or "")


def test_only_questions_with_a_drill_get_a_pointer(bot: StudyBot) -> None:
    library = bot.answers._library
    assert "/submit softmax" in (drill_notice(library, "E12-466") or "")
    assert drill_notice(library, "E3-082") is None
    assert drill_notice(library, "E99-999") is None
