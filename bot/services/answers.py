"""Written answers: store first, grade with nothing held open, store the result in one commit.

The use case, step by step:

1. the answer is validated and committed as pending, before any grading starts;
2. the rubric is found (or drafted once by an LLM) and the grader runs, with no database
   transaction or connection held;
3. the answer's status, its grade and its points are written in ONE commit, guarded by a
   conditional update, so a crash leaves the answer pending (retried) and never graded without
   its points, and a second process that graded the same answer learns it lost and stays quiet;
4. then, and only then, the member is answered: in the command's own reply, marked told
   right after the grade's commit, or else by a DM the teller pass sends exactly once.

A grade no reply showed (graded by a retry, or a process that died between the commit and its
reply) is told by `tell_untold`: each DM is keyed `grade:{answer_id}`, looked up in the member's
conversation before it is sent, sent under a fenced claim, and marked told in the transaction
that checks the claim again, so neither a crash, a restart nor a paused process loses a grade or
sends it twice.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol, overload
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.answers import AnswerStatus
from bot.domain.claims import ClaimLost, ClaimPolicy, ClaimToken, FenceTooSlow
from bot.domain.members import earns_points
from bot.domain.scoring import answer_award, difficulty_of
from bot.errors import InvalidInput, NotAllowed, NotFound, StudyBotError, translated_errors
from bot.messages import Message, MessageField, Publisher, PublishError, Reply, SentMessage
from bot.services.context import Actor
from bot.services.review_deck import schedule_review
from bot.services.reviews import review_rows
from bot.store import answers as repo
from bot.store import claims as claim_repo
from bot.store import cohorts as cohort_repo
from bot.store.models import Answer, Cohort, DraftedRubric
from bot.store.models import Grade as GradeRow

if TYPE_CHECKING:
    from content import Library
    from graders import Grade, Grader, LLMConfig, RubricQuestion

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# One pass at a time tells the grades no reply showed; a dead holder's pass is taken over.
TELLER_CLAIM = "answers:teller"
# A grade this young may still be on its way out in the reply of the command that graded it.
TELL_GRACE = timedelta(seconds=60)
# Said with a grade the offline grader gave because the configured grader failed every try.
FALLBACK_NOTICE = (
    "The LLM grader could not grade this answer after {tries} tries, so it was graded offline "
    "(sentence similarity and claim checks); resubmit later for an LLM grade."
)
_MARK = {"covered": "✅", "partial": "◐", "missing": "❌"}
_QID = re.compile(r"^(E\d{1,2}-\d{3}|D\d{3}-\d{2})$")
SELF_CHECK = (
    "Did you answer the question that was asked, in the first two sentences?",
    "Did you name the mechanism, not just the tool (what happens, step by step)?",
    "Did you put a number on it (memory, latency, cost, scale)?",
    "Did you weigh at least one trade-off and say when you would choose otherwise?",
    "Did you name a failure mode and how you would detect it in production?",
)
NOT_A_MEMBER = (
    "You are not a member of this cohort, so this answer earns no points. Join with /cohort join."
)


class GraderSource(Protocol):
    """Where the answer service gets its grader: built once, one per cohort's token budget."""

    def for_cohort(self, cohort_id: int | None) -> Grader:
        """Return the grader that spends this cohort's token budget."""
        ...


class GradeOutcome(StrEnum):
    """What one call to `AnswerService.grade` did."""

    GRADED = "graded"  # this call stored the grade, the status and the points together
    SELF_CHECK = "self_check"  # this call marked an answer to a question without a rubric
    ALREADY_FINAL = "already_final"  # graded or self-checked before this call: nothing new
    LOST_RACE = "lost_race"  # another process stored its result while this one graded

    @property
    def is_new(self) -> bool:
        """Tell whether this call decided the answer (and so is the one to reply)."""
        return self in (GradeOutcome.GRADED, GradeOutcome.SELF_CHECK)


@dataclass(frozen=True)
class GradedAnswer:
    """The outcome of grading one stored answer."""

    answer: Answer
    outcome: GradeOutcome
    grade: Grade | None
    best: float | None
    points_awarded: int
    public: bool
    notices: tuple[str, ...] = field(default=())


def grade_dm_key(answer_id: int) -> str:
    """Return the idempotency key of the DM that tells an answer's grade."""
    return f"grade:{answer_id}"


def clean_answer(text: str) -> str:
    """Drop zero-width and bidi control characters and normalise; keep everything else."""
    text = unicodedata.normalize("NFC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def normalise_question_id(qid: str) -> str:
    """Upper-case and validate a question id, or explain the format."""
    value = qid.strip().upper()
    if not _QID.match(value):
        raise InvalidInput(
            f"{qid.strip()!r} is not a question id.",
            hint="Bank questions look like E3-082, day questions like D121-03 (see /today).",
        )
    return value


def render_grade(
    qid: str, grade: Grade | None, *, best: float | None, notices: list[str]
) -> Message:
    """Render a grade with ✅ / ◐ / ❌ per rubric point and the evidence quoted, whole.

    Every rubric point gets its field and no text is cut: each face's renderer splits what its
    platform cannot hold in one message.
    """
    if grade is None:
        return Message(
            header=f"{qid}: answer saved — self-check",
            text="This question has no rubric, so there is no score. Check your answer against:",
            fields=(MessageField("Self-check", "\n".join(f"☐ {item}" for item in SELF_CHECK)),),
            footer=" ".join(notices) or None,
        )
    fields = []
    for point in grade.points:
        body = f"“{point.evidence}”" if point.evidence else "(not found in your answer)"
        if point.comment:
            body += f"\n{point.comment}"
        fields.append(MessageField(f"{_MARK[point.verdict]} {point.rubric}", body))
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
        graders: GraderSource,
        *,
        llm: LLMConfig | None = None,
        publishers: Mapping[str, Publisher] | None = None,
        holder: str = "",
        policy: ClaimPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._library = library
        self._clock = clock
        self._graders = graders
        self._llm = llm
        # A live view: faces register their publishers after the services are built.
        self._publishers: Mapping[str, Publisher] = publishers if publishers is not None else {}
        # Unique per service unless given: two processes must never share a claim's holder.
        self.holder = holder or f"answers-{uuid.uuid4().hex[:12]}"
        self.policy = policy or ClaimPolicy()

    async def question_for(self, qid: str) -> RubricQuestion | None:
        """Return the gradable question, drafting a rubric once when an LLM can; None if none.

        The draft is requested with no database connection held; the first stored draft wins.
        """
        from graders import RubricQuestion, draft_rubric

        with translated_errors():
            found = self._library.find_question(qid)
            rubric = list(self._library.rubric_for(qid))
        text = str(getattr(found, "text", ""))
        kind = str(getattr(found, "kind", "concept") or "concept")
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
                draft = await self._store_draft(qid, points, self._llm.model)
        if draft is None or not draft.points:
            return None
        return RubricQuestion(
            id=qid,
            text=text,
            rubric=tuple(str(p) for p in draft.points),
            kind=kind,
            rubric_drafted=draft.status == "drafted",
        )

    async def _store_draft(self, qid: str, points: list[Any], model: str) -> DraftedRubric | None:
        async with self._sessions() as session:
            try:
                draft = await repo.add_drafted_rubric(
                    session, question_id=qid, points=points, model=model
                )
                await session.commit()
                return draft
            except IntegrityError:  # another process stored its draft first: keep that one
                await session.rollback()
                return await repo.get_drafted_rubric(session, question_id=qid)

    async def submit(
        self,
        actor: Actor,
        question_id: str,
        text: str,
        *,
        source: str = "command",
        cohort: Cohort | None = None,
    ) -> Answer:
        """Validate and store an answer as pending; nothing is graded yet.

        An answer from someone who is not an active member is stored and graded like any
        other, but it is linked to no member (so it earns no points) and makes nobody a member.
        """
        from graders import MAX_ANSWER_CHARS

        qid = normalise_question_id(question_id)
        with translated_errors():
            self._library.find_question(qid)  # an unknown id is refused before anything is stored
        cleaned = clean_answer(text)
        if not cleaned:
            raise InvalidInput(
                "Your answer is empty.", hint=f"Write it after the id: /answer {qid} …"
            )
        if len(cleaned) > MAX_ANSWER_CHARS:
            raise InvalidInput(
                f"Your answer is {len(cleaned):,} characters; the limit is {MAX_ANSWER_CHARS:,}.",
                hint="Keep what answers the question (an interview answer is 1-3 minutes).",
            )
        async with self._sessions() as session:
            if cohort is None:
                cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            member_id = None
            if cohort is not None and cohort.id is not None:
                member = await cohort_repo.get_member(
                    session, cohort_id=cohort.id, platform_user_id=actor.user_id
                )
                if member is not None and earns_points(is_member=True, active=member.active):
                    member_id = member.id
            answer = Answer(
                cohort_id=cohort.id if cohort else None,
                member_id=member_id,
                question_id=qid,
                text=cleaned,
                source=source,
                status=AnswerStatus.PENDING,
                created_at=self._clock.now(),
                reply_to={
                    "platform": actor.platform,
                    "user_id": actor.user_id,
                    "channel_id": actor.channel_id,
                    "thread_id": actor.thread_id,
                },
            )
            await repo.add_answer(session, answer=answer)
            await session.commit()
            return answer

    async def grade(self, answer_id: int) -> GradedAnswer:
        """Grade a stored answer; on failure it stays pending for a retry and the error rises."""
        async with self._sessions() as session:
            answer = await repo.get_answer(session, answer_id=answer_id)
            if answer is None:
                raise NotFound(f"No answer #{answer_id}.")
            cohort = (
                await cohort_repo.get_cohort(session, cohort_id=answer.cohort_id)
                if answer.cohort_id
                else None
            )
            stored = (
                await repo.get_grade(session, answer_id=answer_id)
                if answer.status == AnswerStatus.GRADED
                else None
            )
        public = bool(cohort and cohort.answers_public)
        notices = _membership_notices(answer)
        if answer.status != AnswerStatus.PENDING:
            grade = _grade_from_row(stored, answer.question_id) if stored else None
            return GradedAnswer(answer, GradeOutcome.ALREADY_FINAL, grade, None, 0, public, notices)
        drill = drill_notice(self._library, answer.question_id)
        if drill:
            notices = (*notices, drill)
        try:
            question = await self.question_for(answer.question_id)
            if question is None:
                return await self._store_self_check(answer, public, notices)
            grader = self._graders.for_cohort(answer.cohort_id)
            try:
                grade = await grader.grade(question, answer.text)
            except Exception as exc:
                if not self._last_try(answer, exc):
                    raise
                grade = await self._grade_offline(grader, question, answer, exc)
            return await self._store_grade(answer, cohort, grade, public, notices)
        except Exception as exc:
            await self._record_failure(answer_id, exc)
            raise

    @staticmethod
    def _last_try(answer: Answer, exc: BaseException) -> bool:
        """Tell whether this failed try was the answer's last: then it is graded offline.

        A grader that refuses the answer itself (too long, empty) is not a failure to work
        around; every other failure (the LLM down, past its deadline, unreadable) is.
        """
        from graders import GraderError

        if isinstance(exc, (GraderError, StudyBotError)):
            return False
        return answer.attempts + 1 >= MAX_ATTEMPTS

    async def _grade_offline(
        self, grader: Grader, question: RubricQuestion, answer: Answer, exc: BaseException
    ) -> Grade:
        """Grade an answer whose grader failed its last try with the offline grader, and say so."""
        from graders import offline_part

        log.warning(
            "answer %s failed %s tries (%s); grading it offline", answer.id, MAX_ATTEMPTS, exc
        )
        grade = await offline_part(grader).grade(question, answer.text)
        notice = FALLBACK_NOTICE.format(tries=MAX_ATTEMPTS)
        return grade.model_copy(update={"notices": [notice, *grade.notices], "degraded": True})

    async def _store_self_check(
        self, answer: Answer, public: bool, notices: tuple[str, ...]
    ) -> GradedAnswer:
        assert answer.id is not None
        now = self._clock.now()
        async with self._sessions() as session:
            won = await repo.finish_pending_answer(
                session, answer_id=answer.id, status=AnswerStatus.SELF_CHECK, now=now
            )
            await session.commit()
        if won:
            answer.status, answer.graded_at = AnswerStatus.SELF_CHECK, now
        outcome = GradeOutcome.SELF_CHECK if won else GradeOutcome.LOST_RACE
        return GradedAnswer(answer, outcome, None, None, 0, public, notices)

    async def _store_grade(
        self,
        answer: Answer,
        cohort: Cohort | None,
        grade: Grade,
        public: bool,
        notices: tuple[str, ...],
    ) -> GradedAnswer:
        """Write the status, the grade and the points in one commit, or nothing at all."""
        assert answer.id is not None
        now = self._clock.now()
        async with self._sessions() as session:
            won = await repo.finish_pending_answer(
                session, answer_id=answer.id, status=AnswerStatus.GRADED, now=now
            )
            if not won:
                await session.rollback()
                log.info("answer %s was graded by another process first", answer.id)
                return GradedAnswer(answer, GradeOutcome.LOST_RACE, grade, None, 0, public, notices)
            previous = None
            if answer.member_id is not None:
                # Two answers of one member graded at once must not both earn the same points.
                await repo.lock_member(session, member_id=answer.member_id)
                previous = await repo.best_score(
                    session,
                    member_id=answer.member_id,
                    question_id=answer.question_id,
                    exclude_answer=answer.id,
                )
            await repo.add_grade(session, grade=_grade_row(answer.id, grade))
            # Points the LLM found and the claim checks did not wait for an admin; they are
            # stored with the grade, in the same commit.
            for review in review_rows(answer, grade):
                session.add(review)
            awarded = 0
            award = answer_award(grade.score, previous, self._difficulty(answer.question_id))
            if answer.member_id is not None and cohort is not None and award > 0:
                assert cohort.id is not None
                if await repo.award_points(
                    session,
                    cohort_id=cohort.id,
                    member_id=answer.member_id,
                    kind="answer",
                    ref=f"answer:{answer.id}",
                    points=award,
                    local_day=now.astimezone(ZoneInfo(cohort.timezone)).date(),
                    at=now,
                ):
                    awarded = award
            if answer.member_id is not None and cohort is not None and cohort.id is not None:
                await schedule_review(  # the question enters (or comes back in) the review deck
                    session,
                    member_id=answer.member_id,
                    cohort_id=cohort.id,
                    question_id=answer.question_id,
                    score=grade.score,
                    verdicts=[p.verdict for p in grade.points],
                    now=now,
                )
            await session.commit()
        answer.status, answer.graded_at, answer.last_error = AnswerStatus.GRADED, now, None
        best = max(grade.score, previous or 0.0)
        return GradedAnswer(answer, GradeOutcome.GRADED, grade, best, awarded, public, notices)

    def _difficulty(self, qid: str) -> str | None:
        """Return the bank difficulty tag that weighs a question's points (None: counts as M)."""
        try:
            return difficulty_of(self._library.find_question(qid))
        except Exception:  # an unknown id weighs as M; grading already found the question
            return None

    async def _record_failure(self, answer_id: int, exc: BaseException) -> None:
        try:
            async with self._sessions() as session:
                await repo.record_failed_attempt(
                    session, answer_id=answer_id, error=f"{type(exc).__name__}: {exc}"
                )
                await session.commit()
        except Exception as store_exc:  # the answer is still pending; a retry will count it
            log.warning("could not record the failure of answer %s: %s", answer_id, store_exc)

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
            cohort = (
                await cohort_repo.get_cohort(session, cohort_id=link.cohort_id) if link else None
            )
        if link is None:
            return None
        answer = await self.submit(actor, link.question_id, text, source="thread", cohort=cohort)
        assert answer.id is not None
        # Nothing awaits a reply in a thread: when another process decided the answer, it tells
        # the member, and this one stays silent.
        return await self._grade_reply(answer.id, quiet_unless_new=True)

    @overload
    async def _grade_reply(self, answer_id: int) -> Reply: ...
    @overload
    async def _grade_reply(self, answer_id: int, *, quiet_unless_new: bool) -> Reply | None: ...
    async def _grade_reply(self, answer_id: int, *, quiet_unless_new: bool = False) -> Reply | None:
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
        # Shown here only when this reply is the one that tells it: a grade decided elsewhere, or
        # one a teller pass got to first (this process paused past the grace), arrives by DM.
        if not outcome.outcome.is_new or not await self._mark_told(answer_id):
            # Whoever stored the result tells the member; a second grade would contradict it.
            if quiet_unless_new:
                return None
            return Reply.text(
                f"Your answer to {outcome.answer.question_id} is already graded; the result "
                "is sent to you separately.",
            )
        return Reply.of(_grade_message(outcome), ephemeral=not outcome.public)

    async def _mark_told(self, answer_id: int) -> bool:
        """Record that the command's reply tells this grade; False when a DM told it already."""
        async with self._sessions() as session:
            won = await repo.mark_told(session, answer_id=answer_id, now=self._clock.now())
            await session.commit()
        return won

    async def retry_pending(self, *, min_age: timedelta = timedelta(seconds=60)) -> int:
        """Grade answers left pending by a crash or a failed grading; tell their authors."""
        async with self._sessions() as session:
            pending = await repo.pending_answers(
                session, older_than=self._clock.now() - min_age, max_attempts=MAX_ATTEMPTS
            )
        decided: list[int] = []
        for answer in pending:
            assert answer.id is not None
            try:
                outcome = await self.grade(answer.id)
            except Exception as exc:  # stays pending, counted in attempts
                log.warning("retrying answer %s failed: %s", answer.id, exc)
                continue
            if outcome.outcome.is_new:
                decided.append(answer.id)
                # No reply shows it: its member is told now, not after the whole batch.
                await self.tell_untold(fresh=[answer.id], only=[answer.id])
        # A grade as old as a pending answer a retry may take is as free to tell: its command,
        # if one graded it, has had the same time to reply.
        await self.tell_untold(min_age=min_age)
        return len(decided)

    async def tell_untold(
        self,
        *,
        min_age: timedelta = TELL_GRACE,
        fresh: Collection[int] = (),
        only: Collection[int] | None = None,
    ) -> int:
        """DM every decided grade no one told its member yet, each exactly once; return how many.

        An answer decided at least `min_age` ago (or named in `fresh`, decided by this process
        with no reply to show it) is told under the teller claim: its keyed DM is looked for
        first, so a DM a killed process sent but never recorded is found, not sent again; every
        send starts on a fresh fence check, and the told mark is written in the transaction that
        checks the claim again, so a process paused past its lease neither sends nor records.
        `only` limits the pass to the given answers.
        """
        async with self._sessions() as session:
            token = await claim_repo.acquire_claim(
                session,
                key=TELLER_CLAIM,
                holder=self.holder,
                now=self._clock.now(),
                policy=self.policy,
            )
            await session.commit()
        if token is None:
            return 0  # another process is telling right now
        try:
            return await self._tell_untold(token, min_age=min_age, fresh=set(fresh), only=only)
        except FenceTooSlow as exc:  # the claim is given back below; the next pass resumes
            log.warning("the grade teller stops this pass: %s", exc)
            return 0
        except ClaimLost:
            log.info("another process took the grade teller over")
            return 0
        finally:
            async with self._sessions() as session:
                await claim_repo.release_claim(session, token=token, now=self._clock.now())
                await session.commit()

    async def _tell_untold(
        self,
        token: ClaimToken,
        *,
        min_age: timedelta,
        fresh: set[int],
        only: Collection[int] | None,
    ) -> int:
        now = self._clock.now()
        async with self._sessions() as session:
            untold = await repo.untold_answers(session, graded_before=now, answer_ids=only)
        cutoff = now - min_age
        fenced_from: datetime | None = None

        async def fence() -> None:
            # A check begun before a pause or a stall does not cover a send now.
            nonlocal fenced_from

            async def check(checked_from: datetime) -> None:
                async with self._sessions() as session:
                    await claim_repo.fence(
                        session, token=token, now=checked_from, policy=self.policy
                    )
                    await session.commit()

            fenced_from = await claim_repo.fence_for_send(
                self.policy, self._clock.now, fenced_from, check, token=token
            )

        told = 0
        for answer in untold:
            assert answer.id is not None
            if answer.id not in fresh and (answer.graded_at is None or answer.graded_at > cutoff):
                continue  # the command that graded it may be replying with it this instant
            reply_to = answer.reply_to or {}
            platform = str(reply_to.get("platform"))
            user = reply_to.get("user_id")
            publisher = self._publishers.get(platform)
            if not user:
                log.error("answer %s has no author to tell its grade to", answer.id)
                continue
            if publisher is None:
                # Never silent: the grade stays untold and is sent once a face for it is up.
                log.error(
                    "no %s publisher is registered: the grade of answer %s was not sent to %s",
                    platform,
                    answer.id,
                    user,
                )
                continue
            key = grade_dm_key(answer.id)
            try:
                if await self._find_dm(publisher, str(user), key) is None:
                    message = await self._told_message(answer)
                    await fence()
                    await publisher.send_dm(str(user), message, idempotency_key=key)
            except ClaimLost:
                raise
            except Exception as exc:  # stays untold: the next pass tries again
                log.warning("could not tell %s the grade of answer %s: %s", user, answer.id, exc)
                continue
            checked_from = self._clock.now()
            async with self._sessions() as session:
                await claim_repo.fence(session, token=token, now=checked_from, policy=self.policy)
                await repo.mark_told(session, answer_id=answer.id, now=checked_from)
                await session.commit()
            fenced_from = checked_from
            told += 1
        return told

    async def _find_dm(self, publisher: Publisher, user: str, key: str) -> SentMessage | None:
        """Look for a keyed DM; a face that can never look (a missing scope) sends unlooked."""
        try:
            return await publisher.find_dm(user, key)
        except PublishError as exc:
            if exc.transient:
                raise
            # Refusing to send would lose the grade for good; sending unlooked can only repeat
            # a DM a crash interrupted. The warning names what the face was refused.
            log.warning(
                "cannot look for DM %s to %s (%s): sending it without looking", key, user, exc
            )
            return None

    async def _told_message(self, answer: Answer) -> Message:
        """Render a decided answer's grade from what is stored, as its reply would have."""
        assert answer.id is not None
        async with self._sessions() as session:
            row = await repo.get_grade(session, answer_id=answer.id)
            awarded = await repo.points_for_answer(session, answer_id=answer.id)
            previous = None
            if row is not None and answer.member_id is not None:
                previous = await repo.best_score(
                    session,
                    member_id=answer.member_id,
                    question_id=answer.question_id,
                    before_answer=answer.id,
                )
        grade = _grade_from_row(row, answer.question_id) if row is not None else None
        notices = list(_membership_notices(answer))
        drill = drill_notice(self._library, answer.question_id)
        if drill:
            notices.append(drill)
        if awarded:
            notices.insert(0, f"+{awarded} points.")
        best = max(grade.score, previous or 0.0) if grade is not None else None
        return render_grade(answer.question_id, grade, best=best, notices=notices)

    async def review_rubric(
        self, actor: Actor, question_id: str, *, points: list[str] | None = None
    ) -> DraftedRubric:
        """Accept a drafted rubric as it is, or replace its points (cohort admins)."""
        qid = normalise_question_id(question_id)
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            member = None
            if cohort is not None and cohort.id is not None:
                member = await cohort_repo.get_member(
                    session, cohort_id=cohort.id, platform_user_id=actor.user_id
                )
            if not actor.is_workspace_admin and not (member and member.is_admin):
                raise NotAllowed("Only cohort admins can review drafted rubrics.")
            draft = await repo.get_drafted_rubric(session, question_id=qid)
            if draft is None:
                raise NotFound(f"{qid} has no drafted rubric to review.")
            if points is not None:
                cleaned = [p.strip() for p in points if p.strip()]
                if not cleaned:
                    raise InvalidInput("Give at least one rubric point, separated by ';'.")
                draft.points = cleaned
                draft.status = "edited"
            else:
                draft.status = "accepted"
            draft.reviewed_by = actor.user_id
            session.add(draft)
            await session.commit()
            return draft


def drill_notice(library: Library, qid: str) -> str | None:
    """Point an answer to a coding question at the drill that judges its code, if there is one."""
    from gpu_runner.drills import DRILLS

    try:
        found = library.find_question(qid)
    except Exception:  # an unknown id has no drill; submit() refuses it anyway
        return None
    bank = getattr(found, "bank", found)
    match = re.fullmatch(r"E\d{1,2}-(\d{3})", str(getattr(bank, "id", "")))
    if match is None:
        return None
    number = int(match.group(1))
    for drill in DRILLS.values():
        if number in drill.bank_questions:
            return (
                f"Now code it: /submit {drill.id} with your .py file runs your implementation "
                f"against the reference in the sandbox (/drill template {drill.id} gives the "
                "starter file)."
            )
    return None


def _membership_notices(answer: Answer) -> tuple[str, ...]:
    """Tell a non-member (or a member who left) how to join, when the answer has a cohort."""
    if answer.cohort_id is not None and answer.member_id is None:
        return (NOT_A_MEMBER,)
    return ()


def _grade_message(outcome: GradedAnswer) -> Message:
    notices = list(outcome.notices)
    if outcome.points_awarded:
        notices.insert(0, f"+{outcome.points_awarded} points.")
    return render_grade(
        outcome.answer.question_id, outcome.grade, best=outcome.best, notices=notices
    )


def _grade_row(answer_id: int, grade: Grade) -> GradeRow:
    return GradeRow(
        answer_id=answer_id,
        score=grade.score,
        grader=grade.grader,
        points=[p.model_dump(mode="json") for p in grade.points],
        feedback=grade.feedback,
        notices=list(grade.notices),
        tokens_used=grade.tokens_used,
        latency_ms=grade.latency_ms,
    )


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
