"""Spaced review with FSRS: every graded question enters the member's deck; /review serves it.

`schedule_review` runs inside the answer's own unit of work (the grade, its points and the
card commit together); the grade's verdicts become the rating (`bot.domain.review_rating`), so
a low score brings the question back sooner. `ReviewDeckService.next` serves the due cards one
at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from fsrs import Card, Rating, Scheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.review_rating import rating_for
from bot.errors import NotFound
from bot.messages import Button, Message, Reply
from bot.services.context import Actor
from bot.store import cohorts as cohort_repo
from bot.store import review_deck as repo

if TYPE_CHECKING:
    from bot.store.models import Cohort
    from content import Library

_IDS_PER_QUERY = 500  # well within SQLite's bound on a statement's parameters
# No fuzz: the same grades always give the same schedule (tests, and members comparing notes).
_SCHEDULER = Scheduler(enable_fuzzing=False)


async def schedule_review(
    session: AsyncSession,
    *,
    member_id: int,
    cohort_id: int,
    question_id: str,
    score: float,
    verdicts: Sequence[str],
    now: datetime,
) -> datetime:
    """Enter a graded question in the member's deck (or review its card); return when it is due."""
    row = await repo.get_card(session, member_id=member_id, question_id=question_id)
    card = Card.from_dict(row.card) if row is not None and row.card else Card(due=now)  # type: ignore[arg-type]
    rating = rating_for(score, verdicts)
    card, _ = _SCHEDULER.review_card(card, Rating(rating), review_datetime=now)
    await repo.save_card(
        session,
        member_id=member_id,
        cohort_id=cohort_id,
        question_id=question_id,
        card=dict(card.to_dict()),
        due=card.due,
        rating=rating,
        now=now,
    )
    return card.due


def end_of_local_day(at: datetime, zone: str) -> datetime:
    """Return the instant (UTC) the local day of `at` in `zone` ends: the next local midnight."""
    tz = ZoneInfo(zone)
    tomorrow = at.astimezone(tz).date() + timedelta(days=1)
    return datetime.combine(tomorrow, time(0), tzinfo=tz).astimezone(UTC)


def reviews_due_line(members: int) -> str | None:
    """Return the daily post's line on reviews due today, or None when nobody has one."""
    if members <= 0:
        return None
    who = "1 member has" if members == 1 else f"{members} members have"
    return f"🔁 {who} reviews due today — `/review`"


async def members_with_reviews_due(
    session: AsyncSession, cohorts: Sequence[Cohort], *, now: datetime
) -> dict[int, int]:
    """Return, by cohort, how many members have a review due before the cohort's local midnight.

    One query per time zone among the cohorts; cohorts where nobody has one are left out.
    """
    zones: dict[str, list[int]] = {}
    for cohort in cohorts:
        if cohort.id is not None:
            zones.setdefault(cohort.timezone, []).append(cohort.id)
    counts: dict[int, int] = {}
    for zone, ids in zones.items():
        by = end_of_local_day(now, zone)
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = ids[start : start + _IDS_PER_QUERY]
            counts.update(await repo.members_due_by_cohort(session, cohort_ids=chunk, by=by))
    return counts


@dataclass(frozen=True)
class DueReview:
    """The next question a member should review, and how many more are due."""

    question_id: str
    text: str
    due: datetime
    last_rating: int | None
    remaining: int


class ReviewDeckService:
    """Serve a member's due reviews one at a time."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, library: Library
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._library = library

    async def next(self, actor: Actor) -> tuple[DueReview | None, datetime | None]:
        """Return the member's most overdue review (None when nothing is due) and the next due."""
        now = self._clock.now()
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            member = (
                await cohort_repo.get_member(
                    session, cohort_id=cohort.id, platform_user_id=actor.user_id
                )
                if cohort is not None and cohort.id is not None
                else None
            )
            if member is None or member.id is None:
                raise NotFound("You have no review deck here.", hint="Join with /cohort join.")
            due = await repo.due_cards(session, member_id=member.id, now=now)
            if not due:
                return None, await repo.next_due(session, member_id=member.id)
            remaining = await repo.count_due(session, member_id=member.id, now=now)
        card = due[0]
        try:
            text = str(getattr(self._library.find_question(card.question_id), "text", ""))
        except Exception:
            text = ""
        return DueReview(
            card.question_id, text, card.due, card.last_rating, remaining - 1
        ), card.due

    async def reply(self, actor: Actor) -> Reply:
        """Return /review's reply: the next due question with its answer button, or when."""
        review, next_at = await self.next(actor)
        if review is None:
            when = (
                f" The next one is due {next_at:%Y-%m-%d %H:%M} UTC."
                if next_at
                else " Answer questions and they join your deck."
            )
            return Reply.text("Nothing to review right now." + when)
        more = f" {review.remaining} more due after this one." if review.remaining else ""
        return Reply.of(
            Message(
                header=f"Review {review.question_id}",
                text=review.text,
                footer=f"Answer it again with /answer {review.question_id} <your answer>.{more}",
                buttons=(Button("Answer", "command", f"/answer {review.question_id}"),),
            )
        )
