"""Cohort admin tools: re-post a day, re-grade an answer, export the cohort, erase a member.

Every action is permission-checked (a workspace admin or an admin of the channel's cohort) and
written to the audit trail in the same commit as its own change, before anything is sent. The
work itself goes through the other services' public methods (`DailyService.compose_day`,
`AnswerService.grade`); this module only resets what must be redone.

Erasing a member runs `ERASERS` in order, one per table that holds a member's data; a feature
that adds such a table adds its eraser there, in one place. The member row goes last, so a
table nobody added an eraser for stops the erase (its foreign key refuses) instead of leaving
data behind.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.messages import Message, Publisher, SentMessage
from bot.services.context import Actor
from bot.store import audit as audit_repo
from bot.store import cohorts as cohort_repo
from bot.store.models import (
    AdminAction,
    Answer,
    Cohort,
    DashboardLink,
    DayPost,
    Grade,
    GradeReview,
    Member,
    MemberDay,
    MemberStanding,
    MockQueueEntry,
    MockRoom,
    MockTurn,
    PointsEvent,
    ReviewCard,
    Submission,
)


@dataclass(frozen=True)
class Eraser:
    """How to erase (and count) one table's rows of a member."""

    table: str
    count: Callable[[AsyncSession, int, int], Awaitable[int]]
    erase: Callable[[AsyncSession, int, int], Awaitable[int]]


def _deleter(model: Any, *where: Callable[[int, int], Any]) -> Eraser:
    """An eraser deleting the rows of `model` matching every condition."""

    def conditions(cohort_id: int, member_id: int) -> list[Any]:
        return [w(cohort_id, member_id) for w in where]

    async def count(session: AsyncSession, cohort_id: int, member_id: int) -> int:
        query = select(func.count()).select_from(model).where(*conditions(cohort_id, member_id))
        return int((await session.execute(query)).scalar_one())

    async def erase(session: AsyncSession, cohort_id: int, member_id: int) -> int:
        result = await session.execute(delete(model).where(*conditions(cohort_id, member_id)))
        return int(getattr(result, "rowcount", 0) or 0)

    return Eraser(model.__tablename__, count, erase)


def _answers_of(cohort_id: int, member_id: int) -> Any:
    return select(Answer.id).where(Answer.cohort_id == cohort_id, Answer.member_id == member_id)


def _rooms_of(member_id: int) -> Any:
    return or_(MockRoom.interviewer_id == member_id, MockRoom.candidate_id == member_id)


async def _count_rooms(session: AsyncSession, cohort_id: int, member_id: int) -> int:
    query = select(func.count()).select_from(MockRoom)
    query = query.where(MockRoom.cohort_id == cohort_id, _rooms_of(member_id))
    return int((await session.execute(query)).scalar_one())


async def _forget_rooms(session: AsyncSession, cohort_id: int, member_id: int) -> int:
    """Take the member out of their mock rooms: their side and the scorecard go, the slot stays."""
    total = 0
    for column in ("interviewer_id", "candidate_id"):
        result = await session.execute(
            update(MockRoom)
            .where(MockRoom.cohort_id == cohort_id, getattr(MockRoom, column) == member_id)
            .values({column: None, "scorecard": {}})
        )
        total += int(getattr(result, "rowcount", 0) or 0)
    return total


# In order: rows that point at other rows of the member go before those rows.
ERASERS: list[Eraser] = [
    _deleter(GradeReview, lambda c, m: GradeReview.answer_id.in_(_answers_of(c, m))),  # type: ignore[attr-defined]
    _deleter(Grade, lambda c, m: Grade.answer_id.in_(_answers_of(c, m))),  # type: ignore[attr-defined]
    _deleter(Answer, lambda c, m: Answer.cohort_id == c, lambda c, m: Answer.member_id == m),
    _deleter(
        Submission, lambda c, m: Submission.cohort_id == c, lambda c, m: Submission.member_id == m
    ),
    _deleter(
        PointsEvent,
        lambda c, m: PointsEvent.cohort_id == c,
        lambda c, m: PointsEvent.member_id == m,
    ),
    _deleter(
        MockQueueEntry,
        lambda c, m: MockQueueEntry.cohort_id == c,
        lambda c, m: MockQueueEntry.member_id == m,
    ),
    # a solo mock's transcript holds the member's own words: it goes before their seat does
    _deleter(
        MockTurn,
        lambda c, m: MockTurn.room_id.in_(  # type: ignore[attr-defined]
            select(MockRoom.id).where(MockRoom.cohort_id == c, _rooms_of(m))
        ),
    ),
    Eraser("mock_room", _count_rooms, _forget_rooms),
    _deleter(
        ReviewCard, lambda c, m: ReviewCard.cohort_id == c, lambda c, m: ReviewCard.member_id == m
    ),
    _deleter(
        MemberDay, lambda c, m: MemberDay.cohort_id == c, lambda c, m: MemberDay.member_id == m
    ),
    _deleter(
        MemberStanding,
        lambda c, m: MemberStanding.cohort_id == c,
        lambda c, m: MemberStanding.member_id == m,
    ),
    _deleter(
        DashboardLink,
        lambda c, m: DashboardLink.cohort_id == c,
        lambda c, m: DashboardLink.member_id == m,
    ),
    _deleter(Member, lambda c, m: Member.cohort_id == c, lambda c, m: Member.id == m),
]

# What the cohort export holds, table by table: (name, model, condition on the cohort id).
EXPORTED: list[tuple[str, Any, Callable[[int], Any]]] = [
    ("cohort", Cohort, lambda c: Cohort.id == c),
    ("member", Member, lambda c: Member.cohort_id == c),
    ("day_post", DayPost, lambda c: DayPost.cohort_id == c),
    ("answer", Answer, lambda c: Answer.cohort_id == c),
    ("grade", Grade, lambda c: Grade.answer_id.in_(select(Answer.id).where(Answer.cohort_id == c))),  # type: ignore[attr-defined]
    ("submission", Submission, lambda c: Submission.cohort_id == c),
    ("points_event", PointsEvent, lambda c: PointsEvent.cohort_id == c),
    ("mock_room", MockRoom, lambda c: MockRoom.cohort_id == c),
    ("admin_action", AdminAction, lambda c: AdminAction.cohort_id == c),
]


@dataclass(frozen=True)
class ErasePreview:
    """What erasing a member would remove, per table, and the code that confirms it."""

    user_id: str
    counts: dict[str, int]
    code: str


@dataclass(frozen=True)
class Export:
    """A cohort's data as one zip file: data.json and one CSV per table."""

    filename: str
    data: bytes
    rows: dict[str, int]


@dataclass(frozen=True)
class Reposted:
    """A day posted again on an admin's request."""

    day: int
    sent: list[SentMessage]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value


def _row(obj: Any) -> dict[str, Any]:
    return {c.name: _plain(getattr(obj, c.name)) for c in obj.__table__.columns}


class AdminService:
    """The admin use cases of one cohort, for its admins only."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        compose_day: Callable[[int], list[Message]],
        grade_answer: Callable[[int], Awaitable[Any]],
        rejudge_submission: Callable[..., Awaitable[Any]],
        publishers: Mapping[str, Publisher],
        days_total: int,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._compose_day = compose_day
        self._grade_answer = grade_answer
        self._rejudge_submission = rejudge_submission
        self._publishers = publishers
        self._days_total = days_total

    async def _admin_cohort(self, session: AsyncSession, actor: Actor) -> Cohort:
        cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
        if cohort is None:
            raise NotFound("This channel has no cohort yet.")
        assert cohort.id is not None
        if not actor.is_workspace_admin:
            member = await cohort_repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
            if member is None or not member.is_admin or not member.active:
                raise NotAllowed("Only this cohort's admins can use /admin.")
        return cohort

    async def _audit(
        self,
        session: AsyncSession,
        actor: Actor,
        cohort: Cohort,
        action: str,
        target: str,
        **kw: Any,
    ) -> AdminAction:
        return await audit_repo.record_action(
            session,
            cohort_id=cohort.id,
            platform=actor.platform,
            actor_user_id=actor.user_id,
            action=action,
            target=target,
            detail=kw,
            now=self._clock.now(),
        )

    async def repost_day(self, actor: Actor, day: int) -> Reposted:
        """Post a day's messages to the cohort's channel again (after an outage lost them)."""
        if not 1 <= day <= self._days_total:
            raise InvalidInput(f"Day {day} is outside the curriculum (1-{self._days_total}).")
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            action = await self._audit(session, actor, cohort, "repost", f"day {day}")
            await session.commit()
        publisher = self._publishers.get(cohort.platform)
        if publisher is None:
            raise NotFound(f"No {cohort.platform} face is running, so nothing can be posted.")
        channel = actor.channel
        sent = []
        for message in self._compose_day(day):
            # a key of its own per request: an admin's second re-post is a second post
            key = f"studybot:admin:{action.id}:{cohort.id}:{day}:{message.key}"
            sent.append(await publisher.post(channel, message, idempotency_key=key))
        return Reposted(day, sent)

    async def regrade(self, actor: Actor, answer_id: int) -> Any:
        """Grade an answer again: its grade, reviews and points are replaced, once."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            answer = await session.get(Answer, answer_id)
            if answer is None or answer.cohort_id != cohort.id:
                raise NotFound(f"No answer #{answer_id} in this cohort.")
            old = (
                await session.execute(select(Grade.score).where(Grade.answer_id == answer_id))
            ).scalar()
            await self._audit(session, actor, cohort, "regrade", f"answer {answer_id}", old=old)
            await session.execute(delete(GradeReview).where(GradeReview.answer_id == answer_id))
            await session.execute(delete(Grade).where(Grade.answer_id == answer_id))
            await session.execute(
                delete(PointsEvent).where(
                    PointsEvent.cohort_id == cohort.id, PointsEvent.ref == f"answer:{answer_id}"
                )
            )
            answer.status, answer.attempts, answer.graded_at = "pending", 0, None
            await session.commit()
        return await self._grade_answer(answer_id)

    async def rejudge(self, actor: Actor, submission_id: int) -> Any:
        """Judge a stored submission again, as a new submission of its member (audited)."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            assert cohort.id is not None

        async def audit(session: AsyncSession) -> None:
            await self._audit(session, actor, cohort, "rejudge", f"submission {submission_id}")

        return await self._rejudge_submission(submission_id, cohort_id=cohort.id, audit=audit)

    def erase_code(self, cohort_id: int, member_id: int, counts: dict[str, int]) -> str:
        """Return the code confirming the erase of exactly this data."""
        seed = json.dumps([cohort_id, member_id, sorted(counts.items())]).encode()
        return hashlib.sha256(seed).hexdigest()[:6]

    async def _member(self, session: AsyncSession, cohort: Cohort, user_id: str) -> Member:
        assert cohort.id is not None
        member = await cohort_repo.get_member(
            session, cohort_id=cohort.id, platform_user_id=user_id
        )
        if member is None:
            raise NotFound(f"{user_id} has no data in this cohort.")
        return member

    async def _counts(
        self, session: AsyncSession, cohort_id: int, member_id: int
    ) -> dict[str, int]:
        return {e.table: await e.count(session, cohort_id, member_id) for e in ERASERS}

    async def erase_preview(self, actor: Actor, user_id: str) -> ErasePreview:
        """Say what erasing a member's data would remove, with the code that confirms it."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            member = await self._member(session, cohort, user_id)
            assert cohort.id is not None and member.id is not None
            counts = await self._counts(session, cohort.id, member.id)
        return ErasePreview(user_id, counts, self.erase_code(cohort.id, member.id, counts))

    async def erase(self, actor: Actor, user_id: str, code: str) -> dict[str, int]:
        """Erase a member's data in one commit, for the code the preview showed."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            member = await self._member(session, cohort, user_id)
            assert cohort.id is not None and member.id is not None
            counts = await self._counts(session, cohort.id, member.id)
            if code.strip().lower() != self.erase_code(cohort.id, member.id, counts):
                raise Conflict(
                    "That confirmation is for other data (something changed), so nothing was "
                    "erased.",
                    hint=f"Run /admin erase {user_id} again to see what would go.",
                )
            erased = {}
            for eraser in ERASERS:
                erased[eraser.table] = await eraser.erase(session, cohort.id, member.id)
            # the trail names the erase, not the person: the member id is gone with the row
            await self._audit(session, actor, cohort, "erase", f"member {member.id}", rows=erased)
            await session.commit()
        return erased

    async def export(self, actor: Actor) -> Export:
        """Return the cohort's data as a zip of data.json and one CSV per table."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            assert cohort.id is not None
            tables: dict[str, list[dict[str, Any]]] = {}
            for name, model, where in EXPORTED:
                rows = (await session.execute(select(model).where(where(cohort.id)))).scalars()
                tables[name] = [_row(r) for r in rows]
            await self._audit(
                session,
                actor,
                cohort,
                "export",
                "cohort",
                rows={k: len(v) for k, v in tables.items()},
            )
            await session.commit()
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("data.json", json.dumps(tables, indent=2, default=str))
            for name, rows in tables.items():
                archive.writestr(f"{name}.csv", _csv(rows, EXPORTED_COLUMNS[name]))
        stamp = self._clock.now().strftime("%Y%m%d-%H%M")
        return Export(
            f"cohort-{cohort.id}-{stamp}.zip",
            buffer.getvalue(),
            {k: len(v) for k, v in tables.items()},
        )

    async def audit(self, actor: Actor, limit: int = 20) -> Sequence[AdminAction]:
        """Return the cohort's latest admin actions."""
        async with self._sessions() as session:
            cohort = await self._admin_cohort(session, actor)
            assert cohort.id is not None
            return await audit_repo.list_actions(session, cohort_id=cohort.id, limit=limit)


EXPORTED_COLUMNS = {name: [c.name for c in model.__table__.columns] for name, model, _ in EXPORTED}


def _csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(
            {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
        )
    return out.getvalue()
