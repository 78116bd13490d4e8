"""The member page's lists read in one statement, as JSON columns, on both databases.

Compared with the same rows read the ordinary way, column by column: values, their Python types
(aware datetimes, dates, JSON as dicts and lists) and the order the page shows them in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from bot.store import dashboard as repo
from bot.store.json_rows import json_rows
from bot.store.models import Answer, Grade, MemberDay, MockRoom, Submission
from tests.web.seed import NOW, Seeded, seed

AWKWARD = 'It\'s "quoted", back\\slashed,\nmulti-line, naïve — and {"json": [1]} looking.'


async def _add_awkward_answer(db: Any, seeded: Seeded) -> int:
    async with db.sessions() as session:
        answer = Answer(
            cohort_id=seeded.cohort,
            member_id=seeded.bob,
            question_id="E3-082",
            text=AWKWARD,
            status="pending",
            created_at=NOW - timedelta(minutes=5, microseconds=123456),
        )
        session.add(answer)
        await session.commit()
        return answer.id or 0


async def test_the_one_statement_read_gives_what_separate_reads_give(db: Any) -> None:
    seeded = await seed(db.sessions)
    awkward_id = await _add_awkward_answer(db, seeded)
    async with db.sessions() as session:
        found = await repo.member_head(session, member_id=seeded.bob, cohort_id=seeded.cohort)
        assert found is not None
        head, body = found
        assert head.display_name and head.cohort_id == seeded.cohort

        days = (
            await session.execute(
                select(MemberDay.day, MemberDay.points).where(
                    col(MemberDay.member_id) == seeded.bob
                )
            )
        ).all()
        assert body.days == sorted((d, int(p)) for d, p in days) and body.days

        answers = (
            await session.execute(
                select(Answer, Grade)
                .outerjoin(Grade, col(Grade.answer_id) == col(Answer.id))
                .where(col(Answer.member_id) == seeded.bob)
                .order_by(col(Answer.id).desc())
            )
        ).all()
        assert [a.id for a in body.answers] == [a.id for a, _ in answers]
        newest = body.answers[0]
        assert newest.id == awkward_id and newest.text == AWKWARD  # escaping survives the trip
        assert newest.score is None and newest.points is None  # not graded yet
        assert newest.created_at == NOW - timedelta(minutes=5, microseconds=123456)
        assert newest.created_at.tzinfo is not None
        for row, (answer, grade) in zip(body.answers[1:], answers[1:], strict=True):
            assert row.created_at == answer.created_at and isinstance(row.created_at, datetime)
            assert row.score == grade.score and row.feedback == grade.feedback
            assert row.points == grade.points and isinstance(row.points, list)
        assert sorted(body.scores) == sorted(
            (a.question_id, g.score) for a, g in answers if g is not None
        )

        (mock,) = (await session.execute(select(MockRoom))).scalars().all()
        (row,) = body.mocks
        assert row.finished_at == mock.finished_at and row.finished_at.tzinfo == UTC
        assert row.scorecard == mock.scorecard and isinstance(row.scorecard, dict)
        assert row.interviewer_name and row.candidate_name

        subs = (
            (
                await session.execute(
                    select(Submission)
                    .where(col(Submission.member_id) == seeded.bob)
                    .order_by(col(Submission.id).desc())
                )
            )
            .scalars()
            .all()
        )
        assert [s.id for s in body.submissions] == [s.id for s in subs]
        for row, sub in zip(body.submissions, subs, strict=True):
            assert (row.verdict, row.time_s, row.result) == (sub.verdict, sub.time_s, sub.result)


async def test_a_member_of_another_cohort_reads_as_absent(db: Any) -> None:
    seeded = await seed(db.sessions)
    async with db.sessions() as session:
        found = await repo.viewer_and_member_head(
            session, cohort_id=seeded.cohort, member_id=seeded.bob, shown_id=seeded.dave
        )
    assert found is not None and found[3] is None  # the viewer, and no member to show


async def test_an_empty_list_is_an_empty_list(db: Any) -> None:
    seeded = await seed(db.sessions)
    column = json_rows(select(col(Answer.id)).where(col(Answer.member_id) == -1))
    async with db.sessions() as session:
        value = (await session.execute(select(column))).scalar_one()
    assert column.parse(value) == [] and seeded.cohort
