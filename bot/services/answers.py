"""Written answers: store first, grade after the platform's deadline, reply point by point.

An answer is committed (pending) before any grading starts; a grading failure leaves it pending
and it is retried at start and on every scheduler tick, so no answer is lost.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.errors import StudyBotError
from bot.messages import Message, MessageField, Publisher, Reply
from bot.services.context import Actor
from bot.services.reviews import review_rows
from bot.store import answers as repo
from bot.store import cohorts as cohort_repo
from bot.store.models import Answer, Cohort, DraftedRubric
from bot.store.models import Grade as GradeRow

if TYPE_CHECKING:
    from content import Library
    from graders import Grade, Grader, LLMConfig, RubricQuestion

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
POINTS_PER_ANSWER = 10
_MARK = {"covered": "✅", "partial": "◐", "missing": "❌"}
_QID = re.compile(r"^(E\d{1,2}-\d{3}|D\d{3}-\d{2})$")
SELF_CHECK = (
    "Did you answer the question that was asked, in the first two sentences?",
    "Did you name the mechanism, not just the tool (what happens, step by step)?",
    "Did you put a number on it (memory, latency, cost, scale)?",
    "Did you weigh at least one trade-off and say when you would choose otherwise?",
    "Did you name a failure mode and how you would detect it in production?",
)

GraderFactory = Callable[[str], "Grader"]


@dataclass(frozen=True)
class GradedAnswer:
    """The outcome of grading one stored answer."""

    answer: Answer
    grade: Grade | None
    best: float | None
    points_awarded: int
    public: bool


def clean_answer(text: str) -> str:
    """Drop zero-width and bidi control characters and normalise; keep everything else."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def normalise_question_id(qid: str) -> str:
    """Upper-case and validate a question id, or explain the format."""
    value = qid.strip().upper()
    if not _QID.match(value):
        raise StudyBotError(
            f"{qid.strip()!r} is not a question id.",
            hint="Bank questions look like E3-082, day questions like D121-03 (see /today).",
        )
    return value


def render_grade(
    qid: str, grade: Grade | None, *, best: float | None, notices: list[str]
) -> Message:
    """Render a grade with ✅ / ◐ / ❌ per rubric point and the evidence quoted."""
    if grade is None:
        return Message(
            header=f"{qid}: answer saved — self-check",
            text="This question has no rubric, so there is no score. Check your answer against:",
            fields=(MessageField("Self-check", "\n".join(f"☐ {item}" for item in SELF_CHECK)),),
            footer=" ".join(notices) or None,
        )
    fields = []
    for point in grade.points[:25]:
        body = f"“{point.evidence}”" if point.evidence else "(not found in your answer)"
        if point.comment:
            body += f"\n{point.comment}"
        fields.append(MessageField(f"{_MARK[point.verdict]} {point.rubric}"[:256], body[:1024]))
    best_text = f" · best so far {best:.0%}" if best is not None and best > grade.score else ""
    footer = " ".join([*grade.notices, *notices]) or None
    return Message(
        header=f"{qid}: {grade.score:.0%}{best_text}",
        text=grade.feedback,
        fields=tuple(fields),
        footer=footer,
        tone="success" if grade.score >= 0.67 else "info",
    )


class AnswerService:
    """Submit, grade, retry and report written answers."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        library: Library,
        clock: Clock,
        grader_for: GraderFactory,
        *,
        llm: LLMConfig | None = None,
        publishers: dict[str, Publisher] | None = None,
    ) -> None:
        self._sessions = sessions
        self._library = library
        self._clock = clock
        self._grader_for = grader_for
        self._llm = llm
        self._publishers = publishers if publishers is not None else {}

    async def question_for(self, qid: str) -> RubricQuestion | None:
        """Return the gradable question, drafting a rubric once when an LLM can; None if none."""
        from graders import RubricQuestion, draft_rubric

        found = self._library.find_question(qid)
        text = str(getattr(found, "text", ""))
        kind = str(getattr(found, "kind", "concept") or "concept")
        rubric = list(self._library.rubric_for(qid))
        if rubric:
            from_sketch = self._library.rubric_origin(qid) == "sketch"
            return RubricQuestion(
                id=qid, text=text, rubric=tuple(rubric), kind=kind, from_sketch=from_sketch
            )
        async with self._sessions() as session:
            draft = await repo.get_drafted_rubric(session, question_id=qid)
            if draft is None and self._llm is not None:
                try:
                    points = await draft_rubric(text, llm=self._llm)
                except Exception as exc:  # a failed draft just means no rubric yet
                    log.warning("drafting a rubric for %s failed: %s", qid, exc)
                    points = []
                if points:
                    draft = await repo.save_drafted_rubric(
                        session, question_id=qid, points=points, model=self._llm.model
                    )
        if draft is None or not draft.points:
            return None
        return RubricQuestion(
            id=qid,
            text=text,
            rubric=tuple(str(p) for p in draft.points),
            kind=kind,
            rubric_drafted=draft.status == "drafted",
        )

    async def submit(
        self,
        actor: Actor,
        question_id: str,
        text: str,
        *,
        source: str = "command",
        cohort: Cohort | None = None,
    ) -> Answer:
        """Validate and store an answer as pending; nothing is graded yet."""
        from graders import MAX_ANSWER_CHARS

        qid = normalise_question_id(question_id)
        self._library.find_question(qid)  # an unknown id is refused before anything is stored
        cleaned = clean_answer(text)
        if not cleaned:
            raise StudyBotError(
                "Your answer is empty.", hint=f"Write it after the id: /answer {qid} …"
            )
        if len(cleaned) > MAX_ANSWER_CHARS:
            raise StudyBotError(
                f"Your answer is {len(cleaned):,} characters; the limit is {MAX_ANSWER_CHARS:,}.",
                hint="Keep what answers the question (an interview answer is 1-3 minutes).",
            )
        async with self._sessions() as session:
            if cohort is None:
                cohort = await cohort_repo.find_cohort_by_channel(
                    session,
                    platform=actor.platform,
                    workspace_id=actor.workspace_id,
                    channel_id=actor.channel_id,
                )
            member_id = None
            if cohort is not None and cohort.id is not None:
                member = await cohort_repo.upsert_member(
                    session,
                    cohort_id=cohort.id,
                    platform_user_id=actor.user_id,
                    display_name=actor.display_name,
                )
                member_id = member.id
            answer = Answer(
                cohort_id=cohort.id if cohort else None,
                member_id=member_id,
                question_id=qid,
                text=cleaned,
                source=source,
                created_at=self._clock.now(),
                reply_to={
                    "platform": actor.platform,
                    "user_id": actor.user_id,
                    "channel_id": actor.channel_id,
                    "thread_id": actor.thread_id,
                },
            )
            return await repo.add_answer(session, answer=answer)

    async def grade(self, answer_id: int) -> GradedAnswer:
        """Grade a stored answer; on failure it stays pending for a retry and the error rises."""
        async with self._sessions() as session:
            answer = await session.get(Answer, answer_id)
            if answer is None:
                raise StudyBotError(f"No answer #{answer_id}.")
            cohort = await session.get(Cohort, answer.cohort_id) if answer.cohort_id else None
            public = bool(cohort and cohort.answers_public)
            if answer.status == "graded":
                row = (await session.execute(_grade_query(answer_id))).scalars().first()
                grade = _grade_from_row(row, answer.question_id) if row else None
                return GradedAnswer(answer, grade, None, 0, public)
            question = await self.question_for(answer.question_id)
            if question is None:
                answer.status = "self_check"
                session.add(answer)
                await session.commit()
                return GradedAnswer(answer, None, None, 0, public)
            grader = self._grader_for(f"cohort:{answer.cohort_id or 0}")
            try:
                # Grading may take up to the grader's deadline: release the connection meanwhile.
                await session.commit()
                grade = await grader.grade(question, answer.text)
            except Exception as exc:
                answer.attempts += 1
                answer.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                session.add(answer)
                await session.commit()
                raise
            now = self._clock.now()
            previous = None
            if answer.member_id is not None:
                previous = await repo.best_score(
                    session,
                    member_id=answer.member_id,
                    question_id=answer.question_id,
                    exclude_answer=answer.id,
                )
            row = GradeRow(
                answer_id=answer_id,
                score=grade.score,
                grader=grade.grader,
                points=[p.model_dump(mode="json") for p in grade.points],
                feedback=grade.feedback,
                notices=list(grade.notices),
                tokens_used=grade.tokens_used,
                latency_ms=grade.latency_ms,
            )
            # Points the LLM found and the claim checks did not wait for an admin; they are
            # stored with the grade, in the same commit.
            for review in review_rows(answer, grade):
                session.add(review)
            await repo.save_grade(session, answer=answer, grade=row, now=now)
            awarded = 0
            if answer.member_id is not None and answer.cohort_id is not None and cohort:
                # The best grade counts: award only the improvement over the previous best.
                new_points = round(grade.score * POINTS_PER_ANSWER)
                old_points = round((previous or 0.0) * POINTS_PER_ANSWER)
                if new_points > old_points:
                    local_day = now.astimezone(ZoneInfo(cohort.timezone)).date()
                    if await repo.award_points(
                        session,
                        cohort_id=answer.cohort_id,
                        member_id=answer.member_id,
                        kind="answer",
                        ref=f"answer:{answer_id}",
                        points=new_points - old_points,
                        local_day=local_day,
                    ):
                        awarded = new_points - old_points
            best = max(grade.score, previous or 0.0)
            return GradedAnswer(answer, grade, best, awarded, public)

    async def answer(
        self, actor: Actor, question_id: str, text: str, *, source: str = "command"
    ) -> Reply:
        """Store, grade and render (the slow part of /answer, after the platform's deadline)."""
        answer = await self.submit(actor, question_id, text, source=source)
        assert answer.id is not None
        return await self._grade_reply(answer.id)

    async def thread_answer(self, actor: Actor, text: str) -> Reply | None:
        """Treat a reply in a question's thread as an answer; None when the thread is not ours."""
        if not actor.thread_id:
            return None
        async with self._sessions() as session:
            link = await repo.find_thread(
                session,
                platform=actor.platform,
                channel_id=actor.channel_id,
                thread_id=actor.thread_id,
            )
            cohort = await session.get(Cohort, link.cohort_id) if link else None
        if link is None:
            return None
        answer = await self.submit(actor, link.question_id, text, source="thread", cohort=cohort)
        assert answer.id is not None
        return await self._grade_reply(answer.id)

    async def _grade_reply(self, answer_id: int) -> Reply:
        from graders import GradingDelayed

        try:
            outcome = await self.grade(answer_id)
        except StudyBotError:
            raise
        except GradingDelayed:
            return Reply.text(
                "Your answer is saved. Grading is taking longer than usual; you will get the "
                "grade here as soon as it is ready.",
                tone="warning",
            )
        except Exception as exc:  # the answer is safe; say so and retry later
            log.warning("grading answer %s failed: %s", answer_id, exc, exc_info=True)
            return Reply.text(
                "Your answer is saved. Grading failed just now; it will be retried and you will "
                "get the result.",
                tone="warning",
            )
        notices = []
        if outcome.points_awarded:
            notices.append(f"+{outcome.points_awarded} points.")
        message = render_grade(
            outcome.answer.question_id, outcome.grade, best=outcome.best, notices=notices
        )
        return Reply.of(message, ephemeral=not outcome.public)

    async def retry_pending(self, *, min_age: timedelta = timedelta(seconds=60)) -> int:
        """Grade answers left pending by a crash or a failed grading; tell their authors."""
        async with self._sessions() as session:
            pending = await repo.pending_answers(
                session, older_than=self._clock.now() - min_age, max_attempts=MAX_ATTEMPTS
            )
        done = 0
        for answer in pending:
            assert answer.id is not None
            try:
                outcome = await self.grade(answer.id)
            except Exception as exc:  # stays pending, counted in attempts
                log.warning("retrying answer %s failed: %s", answer.id, exc)
                continue
            done += 1
            await self._notify(
                answer.reply_to,
                render_grade(answer.question_id, outcome.grade, best=outcome.best, notices=[]),
            )
        return done

    async def _notify(self, reply_to: dict[str, Any], message: Message) -> None:
        publisher = self._publishers.get(str(reply_to.get("platform")))
        user = reply_to.get("user_id")
        if publisher is None or not user:
            return
        try:
            await publisher.send_dm(str(user), message)
        except Exception as exc:  # the grade is stored; the member can ask again
            log.warning("could not deliver a grade to %s: %s", user, exc)

    async def review_rubric(
        self, actor: Actor, question_id: str, *, points: list[str] | None = None
    ) -> DraftedRubric:
        """Accept a drafted rubric as it is, or replace its points (cohort admins)."""
        qid = normalise_question_id(question_id)
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_by_channel(
                session,
                platform=actor.platform,
                workspace_id=actor.workspace_id,
                channel_id=actor.channel_id,
            )
            member = None
            if cohort is not None and cohort.id is not None:
                member = await cohort_repo.get_member(
                    session, cohort_id=cohort.id, platform_user_id=actor.user_id
                )
            if not actor.is_workspace_admin and not (member and member.is_admin):
                raise StudyBotError("Only cohort admins can review drafted rubrics.")
            draft = await repo.get_drafted_rubric(session, question_id=qid)
            if draft is None:
                raise StudyBotError(f"{qid} has no drafted rubric to review.")
            if points is not None:
                cleaned = [p.strip() for p in points if p.strip()]
                if not cleaned:
                    raise StudyBotError("Give at least one rubric point, separated by ';'.")
                draft.points = cleaned
                draft.status = "edited"
            else:
                draft.status = "accepted"
            draft.reviewed_by = actor.user_id
            session.add(draft)
            await session.commit()
            return draft


def _grade_query(answer_id: int) -> Any:
    from sqlmodel import select

    return select(GradeRow).where(GradeRow.answer_id == answer_id)


def _grade_from_row(row: GradeRow, question_id: str) -> Grade:
    from graders import Grade

    return Grade(
        question_id=question_id,
        score=row.score,
        points=row.points,
        feedback=row.feedback,
        grader=row.grader,
        tokens_used=row.tokens_used,
        latency_ms=row.latency_ms,
        notices=list(row.notices),
    )
