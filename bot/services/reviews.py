"""Grade reviews: rubric points the LLM grader found and the claim checks were sure it did not.

Such a point scores the lower verdict and the member is told it is under review. A cohort admin
lists the open reviews and accepts the LLM's verdict or rejects it. Accepting appends a
correction event to the points ledger for what the corrected grade adds to the member's best on
that question; rejecting keeps the score. Neither edits the stored grade: the review row records
the resolution and the ledger records the points.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.scoring import difficulty_of, points_for_score
from bot.errors import Conflict, NotAllowed, NotFound
from bot.messages import Message, MessageField, Reply
from bot.services.context import Actor
from bot.store import answers as answer_repo
from bot.store import cohorts as cohort_repo
from bot.store import reviews as repo
from bot.store.models import Answer, Cohort, GradeReview

if TYPE_CHECKING:
    from content import Library
    from graders import Grade

_CREDIT = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
_MAX_LISTED = 20


def review_rows(answer: Answer, grade: Grade) -> list[GradeReview]:
    """Return a review row for each provisional point of a grade."""
    assert answer.id is not None
    return [
        GradeReview(
            cohort_id=answer.cohort_id,
            member_id=answer.member_id,
            answer_id=answer.id,
            question_id=answer.question_id,
            point_index=index,
            rubric=point.rubric,
            evidence=point.evidence,
            claimed=point.claimed or "covered",
            scored=point.verdict,
        )
        for index, point in enumerate(grade.points)
        if point.provisional
    ]


def corrected_score(points: list[dict[str, Any]], accepted: dict[int, str]) -> float:
    """Return a stored grade's score with the accepted reviews' verdicts in place."""
    if not points:
        return 0.0
    credit = 0.0
    for index, point in enumerate(points):
        verdict = accepted.get(index, str(point.get("verdict", "missing")))
        credit += _CREDIT.get(verdict, 0.0)
    return round(credit / len(points), 4)


class ReviewService:
    """List and resolve the grade reviews of a cohort (cohort admins)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        library: Library | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._library = library

    async def _admin_cohort(self, session: AsyncSession, actor: Actor) -> Cohort:
        cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
        if cohort is None or cohort.id is None:
            raise NotFound(
                "This channel has no cohort.", hint="Run /grade review in the cohort's channel."
            )
        member = await cohort_repo.get_member(
            session, cohort_id=cohort.id, platform_user_id=actor.user_id
        )
        if not actor.is_workspace_admin and not (member and member.is_admin and member.active):
            raise NotAllowed("Only cohort admins can review grades.")
        return cohort

    async def list_open(self, actor: Actor) -> Reply:
        """Show the cohort's points waiting for review."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            assert cohort.id is not None
            reviews = await repo.open_reviews(session, cohort_id=cohort.id)
        if not reviews:
            return Reply.text("No grades are waiting for review.")
        fields = tuple(
            MessageField(
                f"#{r.id} · {r.question_id} · answer {r.answer_id}"[:256],
                (f"{r.rubric}\n“{r.evidence}”\nLLM: {r.claimed} · counted: {r.scored}")[:1024],
            )
            for r in reviews[:_MAX_LISTED]
        )
        more = f" Showing the oldest {_MAX_LISTED}." if len(reviews) > _MAX_LISTED else ""
        return Reply.of(
            Message(
                header=f"{len(reviews)} point(s) under review",
                text="The LLM grader found these points; the claim checks did not."
                + more
                + " Resolve each with /grade review accept <id> or /grade review reject <id>.",
                fields=fields,
            )
        )

    async def resolve(self, actor: Actor, review_id: int, *, accept: bool) -> GradeReview:
        """Accept or reject one review; accepting appends a correction to the points ledger."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            review = await repo.get_review(session, review_id=review_id)
            if review is None or review.cohort_id != cohort.id:
                raise NotFound(
                    f"No review #{review_id} in this cohort.", hint="See /grade review list."
                )
            if review.status != "open":
                raise Conflict(f"Review #{review_id} was already {review.status}.")
            now = self._clock.now()
            delta = 0
            if accept:
                delta = await self._correction(session, review)
            review.status = "accepted" if accept else "rejected"
            review.resolved_by = actor.user_id
            review.resolved_at = now
            review.points_delta = delta
            session.add(review)
            if delta and review.member_id is not None and cohort.id is not None:
                local_day = now.astimezone(ZoneInfo(cohort.timezone)).date()
                # The review row and its ledger event commit together.
                await answer_repo.award_points(
                    session,
                    cohort_id=cohort.id,
                    member_id=review.member_id,
                    kind="correction",
                    ref=f"review:{review.id}",
                    points=delta,
                    local_day=local_day,
                    at=now,
                )
            await session.commit()
            return review

    async def _correction(self, session: AsyncSession, review: GradeReview) -> int:
        """Return the points accepting this review adds to the member's best on the question."""
        row = await repo.grade_of_answer(session, answer_id=review.answer_id)
        if row is None or review.member_id is None:
            return 0
        others = await repo.reviews_of_answer(session, answer_id=review.answer_id)
        accepted = {r.point_index: r.claimed for r in others if r.status == "accepted"}
        before = corrected_score(list(row.points), accepted)
        after = corrected_score(list(row.points), {**accepted, review.point_index: review.claimed})
        previous = await answer_repo.best_score(
            session,
            member_id=review.member_id,
            question_id=review.question_id,
            exclude_answer=review.answer_id,
        )
        floor = previous or 0.0
        tag = self._difficulty(review.question_id)
        return points_for_score(max(floor, after), tag) - points_for_score(max(floor, before), tag)

    def _difficulty(self, qid: str) -> str | None:
        """Return the bank difficulty tag weighing a question's points (None counts as M)."""
        if self._library is None:
            return None
        try:
            return difficulty_of(self._library.find_question(qid))
        except Exception:  # an unknown id weighs as M
            return None
