"""The answer flow: stored before grading, graded point by point, never lost, best grade counts."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import dispatch, thread_reply
from bot.domain.answers import AnswerStatus
from bot.errors import StudyBotError
from bot.messages import Channel, Message, SentMessage
from bot.services.answers import AnswerService, GradeOutcome, render_grade
from bot.services.context import Actor
from bot.settings import load_settings
from bot.store import answers as answer_repo
from bot.store.models import Answer, DraftedRubric, Grade, Member, PointsEvent, ThreadLink
from graders import Grade as GraderGrade
from graders import PointGrade, RubricQuestion
from tests.support.openai_server import OpenAIServer, Reply

ROOT = Path(__file__).resolve().parents[2]
ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)
BOB = Actor("console", "local", "study", "bob", "Bob")
STRONG = (
    "Adam keeps two moments, m and v, in FP32: 8 bytes per parameter on top of the weights and "
    "gradients. For a 7B model that is 56 GB of optimizer state. AdamW decouples weight decay "
    "from the gradient and applies it directly to the parameter update."
)
WEAK = "Adam stores some extra state for each parameter."


class DMs:
    """The platform boundary for private messages."""

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


class BrokenGrader:
    """A grader whose backend is down (the Grader port)."""

    async def grade(self, question: RubricQuestion, answer: str) -> Any:
        raise ConnectionError("grader backend unreachable")


class Graders:
    """A grader source handing out one given grader (the GraderSource port)."""

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


async def setup_cohort(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)


async def rows(bot: StudyBot, model: Any) -> list[Any]:
    async with bot.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_answer_is_graded_point_by_point_with_evidence(bot: StudyBot) -> None:
    await setup_cohort(bot)
    reply = await dispatch(bot, BOB, "answer", {"id": "e1-005", "text": STRONG})
    message = reply.messages[0]
    assert reply.ephemeral  # private by default
    assert message.header and message.header.startswith("E1-005: ")
    marks = [f.name[0] for f in message.fields]
    assert len(marks) == 3 and marks.count("✅") >= 2
    for fld in message.fields:
        if fld.name.startswith("✅"):
            quoted = fld.value.split("”")[0].lstrip("“")
            assert quoted in STRONG  # evidence is a real span of the answer
    (answer,) = await rows(bot, Answer)
    assert answer.status == "graded" and answer.question_id == "E1-005"
    (points,) = await rows(bot, PointsEvent)
    assert points.points > 0 and points.kind == "answer"


async def test_resubmission_best_grade_counts_and_points_only_grow(bot: StudyBot) -> None:
    await setup_cohort(bot)
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    first = sum(p.points for p in await rows(bot, PointsEvent))
    weaker = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": WEAK})
    assert "best so far" in (weaker.messages[0].header or "")
    assert sum(p.points for p in await rows(bot, PointsEvent)) == first
    assert len(await rows(bot, Answer)) == 2 and len(await rows(bot, Grade)) == 2


@pytest.mark.parametrize(
    ("qid", "text", "message"),
    [
        ("E1-005", "   \u200b\u200f  ", "Your answer is empty"),
        ("E1-005", "x" * 50_000, "50,000 characters; the limit is"),
        ("E99-001", "an answer", "no question 'E99-001'"),
        ("banana", "an answer", "is not a question id"),
    ],
)
async def test_bad_answers_are_explained_and_nothing_is_stored(
    bot: StudyBot, qid: str, text: str, message: str
) -> None:
    await setup_cohort(bot)
    with pytest.raises(StudyBotError) as info:
        await dispatch(bot, BOB, "answer", {"id": qid, "text": text})
    assert message.lower() in str(info.value).lower()
    assert await rows(bot, Answer) == []


async def test_invisible_and_bidi_characters_are_dropped_before_storing(bot: StudyBot) -> None:
    await setup_cohort(bot)
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": "\u202e8 bytes\u200b per param"})
    (answer,) = await rows(bot, Answer)
    assert answer.text == "8 bytes per param"


async def test_failed_grading_keeps_the_answer_and_a_retry_delivers_the_grade(
    bot: StudyBot,
) -> None:
    await setup_cohort(bot)
    working = bot.answers._graders
    bot.answers._graders = Graders(BrokenGrader())  # type: ignore[assignment]
    reply = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert "saved" in (reply.messages[0].text or "") and "retried" in (reply.messages[0].text or "")
    (answer,) = await rows(bot, Answer)
    assert answer.status == "pending" and answer.attempts == 1
    assert "unreachable" in (answer.last_error or "")
    # The backend is back; a tick (or a restart) grades it and tells the member.
    bot.answers._graders = working
    bot.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert await bot.answers.retry_pending() == 1
    (answer,) = await rows(bot, Answer)
    assert answer.status == "graded"
    dms = bot.publishers["console"].sent  # type: ignore[attr-defined]
    assert dms and dms[0][0] == "bob" and (dms[0][1].header or "").startswith("E1-005")
    assert await bot.answers.retry_pending() == 0


async def test_question_without_rubric_gets_an_honest_self_check(bot: StudyBot) -> None:
    await setup_cohort(bot)
    qid = next(q.id for q in bot.library.day(121).tracks[0].items[0].questions if not q.bank_id)
    reply = await dispatch(bot, BOB, "answer", {"id": qid, "text": "DFS with a visited set."})
    message = reply.messages[0]
    assert "self-check" in (message.header or "") and "no score" in message.text
    (answer,) = await rows(bot, Answer)
    assert answer.status == "self_check"
    assert await rows(bot, Grade) == []


async def test_llm_drafts_a_rubric_once_marked_and_admins_accept_it(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    drafted = [
        "Mark visited cells in place and restore them on backtrack.",
        "Prune with a trie when searching many words (Word Search II).",
    ]
    with OpenAIServer().start() as server:
        server.respond_with(Reply.chat_json({"points": drafted}))
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("STUDYBOT_GRADER_KIND", "offline")
        app = StudyBot(
            settings=load_settings(),
            engine=db.engine,
            sessions=db.sessions,
            clock=FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC)),
        )
        await setup_cohort(app)
        qid = next(q.id for q in app.library.day(121).tracks[0].items[0].questions if not q.bank_id)
        text = "I mark visited cells in place on the board and restore them on backtrack."
        first = await dispatch(app, BOB, "answer", {"id": qid, "text": text})
        await dispatch(app, BOB, "answer", {"id": qid, "text": text + " Also a trie."})
        assert len(server.chat_requests) == 1  # drafted once, stored
        assert "drafted by an LLM" in (first.messages[0].footer or "")
        (draft,) = await rows(app, DraftedRubric)
        assert draft.points == drafted and draft.status == "drafted"
        with pytest.raises(StudyBotError, match="Only cohort admins"):
            await dispatch(app, BOB, "rubric accept", {"id": qid})
        await dispatch(app, ADMIN, "rubric edit", {"id": qid, "points": "Visited marks; Trie"})
        (draft,) = await rows(app, DraftedRubric)
        assert draft.points == ["Visited marks", "Trie"] and draft.status == "edited"
        after = await dispatch(app, BOB, "answer", {"id": qid, "text": text})
        assert "drafted by an LLM" not in (after.messages[0].footer or "")


async def test_a_reply_in_a_question_thread_is_an_answer(bot: StudyBot) -> None:
    await setup_cohort(bot)
    async with bot.sessions() as session:
        cohort = await bot.cohorts.cohort_for(ADMIN)
        assert cohort is not None
        session.add(
            ThreadLink(
                platform="console",
                channel_id="study",
                thread_id="m7",
                cohort_id=cohort.id or 0,
                day=1,
                question_id="E1-005",
            )
        )
        await session.commit()
    in_thread = Actor("console", "local", "study", "bob", "Bob", thread_id="m7")
    reply = await thread_reply(bot, in_thread, STRONG)
    assert reply is not None and (reply.messages[0].header or "").startswith("E1-005")
    elsewhere = Actor("console", "local", "study", "bob", "Bob", thread_id="unknown")
    assert await thread_reply(bot, elsewhere, STRONG) is None
    (answer,) = await rows(bot, Answer)
    assert answer.source == "thread"


async def test_public_cohorts_get_grades_in_the_thread(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01", answers_public=True)
    reply = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert reply.ephemeral is False


async def test_pending_answers_older_than_a_minute_only(bot: StudyBot) -> None:
    await setup_cohort(bot)
    await bot.answers.submit(BOB, "E1-005", STRONG)
    assert await bot.answers.retry_pending(min_age=timedelta(minutes=1)) == 0
    bot.clock.advance(minutes=1)  # type: ignore[attr-defined]
    assert await bot.answers.retry_pending(min_age=timedelta(minutes=1)) == 1


# --- one unit of work per step ---------------------------------------------------------------


def made_grade(question: RubricQuestion, score: float, *, note: str = "") -> GraderGrade:
    points = [
        PointGrade(
            rubric=point,
            verdict="covered" if score >= 0.5 else "missing",
            evidence=note,
            decided_by="offline",
        )
        for point in question.rubric
    ]
    return GraderGrade(
        question_id=question.id, score=score, points=points, feedback=note, grader="offline"
    )


class FixedGrader:
    """A grader that gives a fixed score and records how many connections were checked out."""

    def __init__(self, score: float, engine: Any = None, *, note: str = "") -> None:
        self.score = score
        self.engine = engine
        self.note = note
        self.connections_held: list[int] = []
        self.calls = 0

    async def grade(self, question: RubricQuestion, answer: str) -> GraderGrade:
        self.calls += 1
        if self.engine is not None:
            self.connections_held.append(self.engine.pool.checkedout())
        return made_grade(question, self.score, note=self.note)


class GatedGrader(FixedGrader):
    """A grader that waits until the test lets it finish (a slow LLM)."""

    def __init__(self, score: float) -> None:
        super().__init__(score)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def grade(self, question: RubricQuestion, answer: str) -> GraderGrade:
        self.started.set()
        await self.release.wait()
        return await super().grade(question, answer)


async def test_a_crash_between_grade_and_points_leaves_the_answer_pending_then_graded_once(
    bot: StudyBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_cohort(bot)
    bot.answers._graders = Graders(FixedGrader(0.8))  # type: ignore[assignment]
    answer = await bot.answers.submit(BOB, "E1-005", STRONG)
    assert answer.id is not None

    async def crash(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("process killed here")

    monkeypatch.setattr(answer_repo, "award_points", crash)
    with pytest.raises(RuntimeError, match="killed"):
        await bot.answers.grade(answer.id)
    (stored,) = await rows(bot, Answer)
    assert stored.status == AnswerStatus.PENDING and stored.attempts == 1  # not graded alone
    assert await rows(bot, Grade) == [] and await rows(bot, PointsEvent) == []

    monkeypatch.undo()  # the process restarts
    bot.clock.advance(minutes=2)  # type: ignore[attr-defined]
    assert await bot.answers.retry_pending() == 1
    assert await bot.answers.retry_pending() == 0
    (stored,) = await rows(bot, Answer)
    (grade,) = await rows(bot, Grade)
    (points,) = await rows(bot, PointsEvent)
    assert stored.status == AnswerStatus.GRADED and grade.answer_id == stored.id
    assert points.points == 16  # 8 tenths x M weight 2 and points.ref == f"answer:{stored.id}"


async def test_the_loser_of_a_grading_race_knows_it_and_awards_and_says_nothing(
    bot: StudyBot, db: Any
) -> None:
    await setup_cohort(bot)
    slow = GatedGrader(0.9)
    bot.answers._graders = Graders(slow)  # type: ignore[assignment]
    answer = await bot.answers.submit(BOB, "E1-005", STRONG)
    assert answer.id is not None
    # A second process, same database, grades the same pending answer while the first waits.
    other = AnswerService(
        db.sessions,
        bot.library,
        bot.clock,
        Graders(FixedGrader(0.6)),
        publishers=bot.publishers,
    )
    first = asyncio.create_task(bot.answers._grade_reply(answer.id))
    await slow.started.wait()
    assert await other.retry_pending(min_age=timedelta(0)) == 1
    slow.release.set()
    reply = await first
    assert "already graded" in reply.messages[0].text and not reply.messages[0].fields
    outcome = await bot.answers.grade(answer.id)
    assert outcome.outcome is GradeOutcome.ALREADY_FINAL and outcome.points_awarded == 0
    (grade,) = await rows(bot, Grade)
    (points,) = await rows(bot, PointsEvent)
    assert grade.score == 0.6 and points.points == 12  # the winner's result, once
    dms = bot.publishers["console"].sent  # type: ignore[attr-defined]
    assert len(dms) == 1  # only the winner told the member


async def test_a_lost_race_is_a_typed_outcome(bot: StudyBot, db: Any) -> None:
    await setup_cohort(bot)
    slow = GatedGrader(0.9)
    bot.answers._graders = Graders(slow)  # type: ignore[assignment]
    answer = await bot.answers.submit(BOB, "E1-005", STRONG)
    assert answer.id is not None
    other = AnswerService(db.sessions, bot.library, bot.clock, Graders(FixedGrader(0.6)))
    task = asyncio.create_task(bot.answers.grade(answer.id))
    await slow.started.wait()
    winner = await other.grade(answer.id)
    slow.release.set()
    loser = await task
    assert winner.outcome is GradeOutcome.GRADED and winner.points_awarded == 12
    assert loser.outcome is GradeOutcome.LOST_RACE and loser.points_awarded == 0
    assert not loser.outcome.is_new


async def test_no_connection_is_held_while_the_grader_runs(bot: StudyBot, db: Any) -> None:
    await setup_cohort(bot)
    grader = FixedGrader(0.8, db.engine)
    bot.answers._graders = Graders(grader)  # type: ignore[assignment]
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert grader.connections_held == [0]


async def test_no_connection_is_held_while_a_rubric_is_drafted(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import graders

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("STUDYBOT_GRADER_KIND", "offline")
    app = StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC)),
    )
    held: list[int] = []

    async def draft(text: str, *, llm: Any) -> list[str]:
        held.append(db.engine.pool.checkedout())
        return ["Mark visited cells", "Backtrack"]

    monkeypatch.setattr(graders, "draft_rubric", draft)
    qid = next(q.id for q in app.library.day(121).tracks[0].items[0].questions if not q.bank_id)
    question = await app.answers.question_for(qid)
    assert question is not None and question.rubric_drafted
    assert held == [0]
    assert (await app.answers.question_for(qid)) is not None and held == [0]  # stored once


async def test_every_rubric_point_and_all_of_its_text_come_back(bot: StudyBot) -> None:
    long_evidence = "evidence " * 200  # 1,800 characters: over one Discord field
    grade = made_grade(
        RubricQuestion(
            id="E1-005",
            text="q",
            rubric=tuple(f"Point {i}: " + "x" * 300 for i in range(30)),
        ),
        0.9,
        note=long_evidence,
    )
    message = render_grade("E1-005", grade, best=None, notices=[])
    assert len(message.fields) == 30
    assert all(len(f.name) > 300 and long_evidence in f.value for f in message.fields)


async def test_answers_from_non_members_are_graded_but_join_nobody(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    stranger = Actor("console", "local", "study", "U777", "U777")
    reply = await dispatch(bot, stranger, "answer", {"id": "E1-005", "text": STRONG})
    assert "/cohort join" in (reply.messages[0].footer or "")
    assert (reply.messages[0].header or "").startswith("E1-005: ")
    (answer,) = await rows(bot, Answer)
    assert answer.status == AnswerStatus.GRADED and answer.member_id is None
    assert await rows(bot, PointsEvent) == []
    assert {m.platform_user_id for m in await rows(bot, Member)} == {"ada"}


async def test_a_member_who_left_is_not_rejoined_by_answering(bot: StudyBot) -> None:
    await setup_cohort(bot)
    await bot.cohorts.leave(BOB)
    nameless = Actor("console", "local", "study", "bob", "bob")
    reply = await dispatch(bot, nameless, "answer", {"id": "E1-005", "text": STRONG})
    assert "/cohort join" in (reply.messages[0].footer or "")
    bob = next(m for m in await rows(bot, Member) if m.platform_user_id == "bob")
    assert bob.active is False and bob.display_name == "Bob"
    assert await rows(bot, PointsEvent) == []


async def test_members_answers_earn_points_without_touching_their_name(bot: StudyBot) -> None:
    await setup_cohort(bot)
    nameless = Actor("console", "local", "study", "bob", "bob", thread_id=None)
    reply = await dispatch(bot, nameless, "answer", {"id": "E1-005", "text": STRONG})
    assert "/cohort join" not in (reply.messages[0].footer or "")
    bob = next(m for m in await rows(bot, Member) if m.platform_user_id == "bob")
    assert bob.display_name == "Bob"
    assert len(await rows(bot, PointsEvent)) == 1


async def test_every_status_written_is_a_declared_status(bot: StudyBot) -> None:
    await setup_cohort(bot)
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    qid = next(q.id for q in bot.library.day(121).tracks[0].items[0].questions if not q.bank_id)
    await dispatch(bot, BOB, "answer", {"id": qid, "text": "DFS."})
    await bot.answers.submit(BOB, "E1-005", WEAK)
    statuses = {a.status for a in await rows(bot, Answer)}
    assert statuses == {"graded", "self_check", "pending"}
    assert all(AnswerStatus(s) for s in statuses)


async def test_a_grade_with_no_publisher_for_its_platform_is_logged_not_dropped_silently(
    bot: StudyBot, caplog: pytest.LogCaptureFixture
) -> None:
    await setup_cohort(bot)
    slack_bob = Actor("slack", "local", "study", "bob", "Bob")
    await bot.answers.submit(slack_bob, "E1-005", STRONG)
    bot.clock.advance(minutes=2)  # type: ignore[attr-defined]
    with caplog.at_level(logging.ERROR):
        assert await bot.answers.retry_pending() == 1
    assert "no slack publisher is registered" in caplog.text


async def test_a_process_killed_between_grade_and_points_is_graded_once_on_restart(
    bot: StudyBot, db: Any
) -> None:
    await setup_cohort(bot)
    answer = await bot.answers.submit(BOB, "E1-005", STRONG)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.support.answer_crash",
        db.url,
        db.schema or "-",
        str(answer.id),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    assert child.stdout is not None
    line = await asyncio.wait_for(child.stdout.readline(), timeout=120)
    assert line.startswith(b"between grade and points")
    child.send_signal(signal.SIGKILL)
    assert await child.wait() == -signal.SIGKILL
    (stored,) = await rows(bot, Answer)
    assert stored.status == AnswerStatus.PENDING  # the killed transaction left nothing half-done
    assert await rows(bot, Grade) == [] and await rows(bot, PointsEvent) == []
    bot.answers._graders = Graders(FixedGrader(0.8))  # type: ignore[assignment]
    assert await bot.answers.retry_pending(min_age=timedelta(0)) == 1
    assert await bot.answers.retry_pending(min_age=timedelta(0)) == 0
    (grade,) = await rows(bot, Grade)
    (points,) = await rows(bot, PointsEvent)
    assert grade.answer_id == answer.id and points.points == 16


async def test_a_thread_answer_that_lost_its_race_gets_no_second_reply(
    bot: StudyBot, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    await setup_cohort(bot)
    cohort = await bot.cohorts.cohort_for(ADMIN)
    assert cohort is not None and cohort.id is not None
    async with bot.sessions() as session:
        session.add(
            ThreadLink(
                platform="console",
                channel_id="study",
                thread_id="m7",
                cohort_id=cohort.id,
                day=1,
                question_id="E1-005",
            )
        )
        await session.commit()
    slow = GatedGrader(0.9)
    bot.answers._graders = Graders(slow)  # type: ignore[assignment]
    other = AnswerService(
        db.sessions, bot.library, bot.clock, Graders(FixedGrader(0.6)), publishers=bot.publishers
    )
    in_thread = Actor("console", "local", "study", "bob", "Bob", thread_id="m7")
    first = asyncio.create_task(thread_reply(bot, in_thread, STRONG))
    await slow.started.wait()
    assert await other.retry_pending(min_age=timedelta(0)) == 1
    slow.release.set()
    assert await first is None
    assert len(bot.publishers["console"].sent) == 1  # type: ignore[attr-defined]
    assert len(await rows(bot, PointsEvent)) == 1
