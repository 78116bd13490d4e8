"""Points under review: stored with the grade, resolved by admins, corrected in the ledger."""

from __future__ import annotations

import pytest

from bot.app import StudyBot
from bot.clock import SystemClock
from bot.commands import dispatch
from bot.errors import StudyBotError
from bot.store.models import Answer, GradeReview, PointsEvent
from graders import Grade, GradingDelayed, PointGrade, RubricQuestion
from tests.bot.test_answers_service import ADMIN, BOB, STRONG, Graders, bot, rows, setup_cohort

__all__ = ["bot"]  # the fixture, imported for these tests


class DisputedGrader:
    """A grader (the Grader port) whose third point the LLM found and the claim checks did not."""

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        points = [
            PointGrade(rubric=question.rubric[0], verdict="covered", decided_by="llm"),
            PointGrade(rubric=question.rubric[1], verdict="missing", decided_by="llm"),
            PointGrade(
                rubric=question.rubric[2],
                verdict="missing",
                claimed="covered",
                provisional=True,
                evidence="AdamW decouples weight decay from the gradient",
                comment="Under review: ...",
                decided_by="llm",
            ),
        ]
        return Grade(
            question_id=question.id,
            score=round(1 / 3, 4),
            points=points,
            feedback="f",
            grader="llm",
            provisional_points=1,
            notices=["1 point is under review by the cohort's admins; your score may still go up."],
        )


class SlowGrader:
    """A grader whose LLM did not answer within the deadline."""

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        raise GradingDelayed()


async def test_a_disputed_point_is_stored_listed_and_accepted_with_a_correction(
    bot: StudyBot,
) -> None:
    await setup_cohort(bot)
    bot.answers._graders = Graders(DisputedGrader())  # type: ignore[assignment]
    reply = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert "under review" in (reply.messages[0].footer or "")
    (review,) = await rows(bot, GradeReview)
    assert review.status == "open" and review.claimed == "covered" and review.scored == "missing"
    before = sum(p.points for p in await rows(bot, PointsEvent))
    assert before == 6  # one of three points, x M weight 2

    with pytest.raises(StudyBotError, match="Only cohort admins"):
        await dispatch(bot, BOB, "grade review", {"action": "list"})
    listing = await dispatch(bot, ADMIN, "grade review", {})
    assert f"#{review.id}" in listing.messages[0].fields[0].name

    done = await dispatch(bot, ADMIN, "grade review", {"action": "accept", "id": review.id})
    assert "accepted" in (done.messages[0].text or "") and "+8 points" in (
        done.messages[0].text or ""
    )
    events = await rows(bot, PointsEvent)
    correction = [e for e in events if e.kind == "correction"]
    assert len(correction) == 1 and correction[0].points == 8
    assert correction[0].ref == f"review:{review.id}"
    # The grade itself is not edited; the review records the resolution.
    (stored,) = await rows(bot, GradeReview)
    assert stored.status == "accepted" and stored.resolved_by == ADMIN.user_id
    with pytest.raises(StudyBotError, match="already accepted"):
        await dispatch(bot, ADMIN, "grade review", {"action": "reject", "id": review.id})
    empty = await dispatch(bot, ADMIN, "grade review", {"action": "list"})
    assert "No grades are waiting" in (empty.messages[0].text or "")


async def test_a_rejected_review_keeps_the_score_and_writes_no_points(bot: StudyBot) -> None:
    await setup_cohort(bot)
    bot.answers._graders = Graders(DisputedGrader())  # type: ignore[assignment]
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    (review,) = await rows(bot, GradeReview)
    done = await dispatch(bot, ADMIN, "grade review", {"action": "reject", "id": review.id})
    assert "stays missing" in (done.messages[0].text or "")
    assert [e.kind for e in await rows(bot, PointsEvent)] == ["answer"]
    with pytest.raises(StudyBotError, match="No review #999"):
        await dispatch(bot, ADMIN, "grade review", {"action": "accept", "id": 999})
    with pytest.raises(StudyBotError, match="needs the review number"):
        await dispatch(bot, ADMIN, "grade review", {"action": "accept"})
    with pytest.raises(StudyBotError, match="Unknown action"):
        await dispatch(bot, ADMIN, "grade review", {"action": "delete", "id": review.id})


async def test_a_grade_past_its_deadline_is_taken_later(bot: StudyBot) -> None:
    await setup_cohort(bot)
    bot.answers._graders = Graders(SlowGrader())  # type: ignore[assignment]
    reply = await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    assert "taking longer" in (reply.messages[0].text or "")
    (answer,) = await rows(bot, Answer)
    assert answer.status == "pending" and answer.attempts == 1


def test_the_grader_deadline_and_response_format_come_from_the_settings(
    monkeypatch: pytest.MonkeyPatch, db: object
) -> None:
    from bot.settings import SettingsError, load_settings

    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("STUDYBOT_GRADER_DEADLINE_S", "12.5")
    monkeypatch.setenv("STUDYBOT_GRADER_RESPONSE_FORMAT", "text")
    app = StudyBot(
        settings=load_settings(),
        engine=db.engine,  # type: ignore[attr-defined]
        sessions=db.sessions,  # type: ignore[attr-defined]
        clock=SystemClock(),
    )
    config = app.llm_config
    assert config is not None and config.deadline_s == 12.5 and config.response_format == "text"
    monkeypatch.setenv("STUDYBOT_GRADER_RESPONSE_FORMAT", "yaml")
    with pytest.raises(SettingsError, match="STUDYBOT_GRADER_RESPONSE_FORMAT"):
        load_settings()
