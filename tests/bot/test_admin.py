"""/admin: permission-checked, audited re-post, re-grade, export and a confirmed erase."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import dispatch
from bot.errors import Conflict, NotAllowed, NotFound
from bot.messages import Channel, Message, SentMessage
from bot.services.admin import ERASERS
from bot.services.context import Actor
from bot.settings import GraderSettings, Settings
from bot.store.models import (
    AdminAction,
    Answer,
    Grade,
    Member,
    MockQueueEntry,
    MockRoom,
    PointsEvent,
    Submission,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
ADMIN = Actor("slack", "T1", "C1", "UADMIN", "admin", is_workspace_admin=True)
ALICE = Actor("slack", "T1", "C1", "UALICE", "alice")
BOB = Actor("slack", "T1", "C1", "UBOB", "bob")
OTHER_ADMIN = Actor("slack", "T1", "C2", "UADMIN", "admin", is_workspace_admin=True)
SELF_CHECK_QUESTION = "E1-001"  # no rubric: graded as a self-check, no model needed


class RecordingPublisher:
    platform = "slack"

    def __init__(self) -> None:
        self.posts: list[tuple[Channel, Message, str]] = []

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        self.posts.append((channel, message, idempotency_key))
        return SentMessage(str(len(self.posts)), channel.channel_id)


@pytest.fixture
async def bot(db: Any) -> StudyBot:
    settings = Settings(grader=GraderSettings(kind="offline"))
    app = StudyBot(settings=settings, engine=db.engine, sessions=db.sessions, clock=FakeClock(NOW))
    for admin in (ADMIN, OTHER_ADMIN):
        await app.cohorts.setup(admin, name=f"cohort {admin.channel_id}")
    for member in (ALICE, BOB):
        await app.cohorts.join(member)
    return app


async def member_id(bot: StudyBot, actor: Actor) -> int:
    found = await bot.cohorts.member(actor)
    assert found is not None and found.id is not None
    return found.id


async def count(bot: StudyBot, model: Any, *where: Any) -> int:
    async with bot.sessions() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(model).where(*where))
            ).scalar_one()
        )


async def give_data(bot: StudyBot, actor: Actor) -> None:
    """An answer graded with points, a submission, a queue entry and a mock room."""
    cohort = await bot.cohorts.require_cohort(actor)
    mid = await member_id(bot, actor)
    answer = await bot.answers.submit(actor, SELF_CHECK_QUESTION, f"{actor.display_name} says hi")
    assert answer.id is not None
    await bot.answers.grade(answer.id)
    async with bot.sessions() as session:
        if not await session.scalar(select(func.count()).where(Grade.answer_id == answer.id)):
            session.add(Grade(answer_id=answer.id, score=0.5, grader="offline"))
        session.add(
            PointsEvent(
                cohort_id=cohort.id,
                member_id=mid,
                kind="answer",
                ref=f"answer:{answer.id}",
                points=3,
                local_day=NOW.date(),
            )
        )
        session.add(
            Submission(
                job_id=f"job-{mid}",
                cohort_id=cohort.id,
                member_id=mid,
                drill_id="lru_cache",
                source="x",
            )
        )
        session.add(MockQueueEntry(cohort_id=cohort.id, member_id=mid))
        session.add(
            MockRoom(
                cohort_id=cohort.id,
                interviewer_id=mid,
                status="finished",
                scorecard={"by": actor.display_name},
            )
        )
        await session.commit()


async def test_only_admins_may_and_nothing_is_audited_for_a_refusal(bot: StudyBot) -> None:
    with pytest.raises(NotAllowed):
        await bot.admin.export(ALICE)
    with pytest.raises(NotAllowed):
        await dispatch(bot, ALICE, "admin erase", {"user": "UBOB"})
    assert await count(bot, AdminAction) == 0
    await bot.cohorts.set_admin(ADMIN, "UALICE", admin=True)
    export = await bot.admin.export(ALICE)  # a cohort admin who is no workspace admin
    assert export.rows["member"] >= 2
    assert await count(bot, AdminAction, AdminAction.actor_user_id == "UALICE") == 1


async def test_erase_asks_first_then_erases_only_that_member(bot: StudyBot) -> None:
    await give_data(bot, ALICE)
    await give_data(bot, BOB)
    alice = await member_id(bot, ALICE)
    bob = await member_id(bot, BOB)

    preview = await dispatch(bot, ADMIN, "admin erase", {"user": "<@UALICE>"})
    text = preview.messages[0].text
    code = text.split("confirm=")[1].split("`")[0]
    counts = await bot.admin.erase_preview(ADMIN, "UALICE")
    assert counts.code == code
    assert counts.counts["answer"] == 1 and counts.counts["points_event"] == 1
    assert counts.counts["mock_room"] == 1 and counts.counts["member"] == 1
    assert await count(bot, Answer, Answer.member_id == alice) == 1  # nothing erased yet

    with pytest.raises(Conflict):
        await bot.admin.erase(ADMIN, "UALICE", "nope00")
    assert await count(bot, Answer, Answer.member_id == alice) == 1

    done = await dispatch(bot, ADMIN, "admin erase", {"user": "UALICE", "confirm": code})
    assert "Erased" in done.messages[0].text
    for model, column in (
        (Answer, Answer.member_id),
        (Submission, Submission.member_id),
        (PointsEvent, PointsEvent.member_id),
        (MockQueueEntry, MockQueueEntry.member_id),
        (MockRoom, MockRoom.interviewer_id),
        (Member, Member.id),
    ):
        assert await count(bot, model, column == alice) == 0, model
        assert await count(bot, model, column == bob) == 1, model
    assert await count(bot, Grade) == 1  # bob's
    async with bot.sessions() as session:
        rooms = (await session.execute(select(MockRoom))).scalars().all()
        trail = (await session.execute(select(AdminAction))).scalars().all()
    assert [r.scorecard for r in rooms if r.interviewer_id is None] == [{}]
    erase = [a for a in trail if a.action == "erase"]
    assert len(erase) == 1 and "UALICE" not in json.dumps(erase[0].detail) + erase[0].target
    # every table that holds a member's data has an eraser, the member row last
    assert ERASERS[-1].table == "member"


async def test_export_is_a_zip_of_json_and_csv_for_this_cohort_only(bot: StudyBot) -> None:
    await give_data(bot, ALICE)
    export = await bot.admin.export(OTHER_ADMIN)
    assert export.rows["answer"] == 0 and export.rows["member"] == 1  # the admin, in C2
    export = await bot.admin.export(ADMIN)
    archive = zipfile.ZipFile(io.BytesIO(export.data))
    assert "data.json" in archive.namelist() and "answer.csv" in archive.namelist()
    data = json.loads(archive.read("data.json"))
    assert [a["text"] for a in data["answer"]] == ["alice says hi"]
    assert {m["platform_user_id"] for m in data["member"]} >= {"UALICE", "UBOB"}
    csv_lines = archive.read("answer.csv").decode().strip().splitlines()
    assert len(csv_lines) == 2 and csv_lines[0].startswith("id,")
    reply = await dispatch(bot, ADMIN, "admin export", {})
    assert reply.messages[0].image is not None
    assert reply.messages[0].image.filename.endswith(".zip")


async def test_regrade_replaces_the_grade_and_points_once(bot: StudyBot) -> None:
    await give_data(bot, ALICE)
    async with bot.sessions() as session:
        answer_id = (await session.execute(select(Answer.id))).scalar_one()
    await dispatch(bot, ADMIN, "admin regrade", {"answer": str(answer_id)})
    await bot.admin.regrade(ADMIN, answer_id)
    assert await count(bot, Grade, Grade.answer_id == answer_id) <= 1
    assert await count(bot, PointsEvent, PointsEvent.ref == f"answer:{answer_id}") <= 1
    async with bot.sessions() as session:
        answer = await session.get(Answer, answer_id)
    assert answer is not None and answer.status != "pending"
    assert await count(bot, AdminAction, AdminAction.action == "regrade") == 2
    with pytest.raises(Exception, match="No answer"):
        await bot.admin.regrade(OTHER_ADMIN, answer_id)  # another cohort's answer


async def test_repost_posts_the_day_again_with_new_keys(bot: StudyBot) -> None:
    publisher = RecordingPublisher()
    bot.add_publisher("slack", publisher)
    await dispatch(bot, ADMIN, "admin repost", {"day": "3"})
    first = len(publisher.posts)
    assert first == len(bot.daily.compose_day(3)) and first > 0
    await bot.admin.repost_day(ADMIN, 3)
    keys = [key for _, _, key in publisher.posts]
    assert len(keys) == 2 * first and len(set(keys)) == len(keys)
    assert {c.channel_id for c, _, _ in publisher.posts} == {"C1"}
    audit = await dispatch(bot, ADMIN, "admin audit", {})
    assert audit.messages[0].text.count("repost day 3") == 2


def test_every_table_that_points_at_a_member_has_an_eraser() -> None:
    """A feature that adds a table of members' data cannot forget the erase-on-request."""
    from sqlmodel import SQLModel

    import bot.store.models  # noqa: F401  (every table registered)

    holding = {
        table.name
        for table in SQLModel.metadata.sorted_tables
        if any(fk.column.table.name == "member" for fk in table.foreign_keys)
    }
    # mock_turn holds no member id but the member's words, reached through their rooms
    assert holding | {"member", "mock_turn"} <= {e.table for e in ERASERS}


class HeldRunner:
    """The runner port at its boundary: takes jobs and keeps them (the test only dispatches)."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def dispatch(self, job: Any) -> str:
        self.jobs.append(job.job_id)
        return job.job_id

    async def close(self) -> None:
        pass


async def test_rejudge_is_admin_only_audited_and_refuses_what_it_cannot_do(bot: StudyBot) -> None:
    runner = HeldRunner()
    bot.__dict__["runner"] = runner  # before the services are built
    await give_data(bot, ALICE)
    async with bot.sessions() as session:
        sub = (await session.execute(select(Submission))).scalars().one()
        sub.status, sub.verdict = "done", "passed"
        await session.commit()
    assert sub.id is not None

    with pytest.raises(NotAllowed):
        await dispatch(bot, ALICE, "admin rejudge", {"submission": sub.id})
    with pytest.raises(NotFound):
        await dispatch(bot, OTHER_ADMIN, "admin rejudge", {"submission": sub.id})
    assert await count(bot, AdminAction) == 0 and runner.jobs == []

    done = await dispatch(bot, ADMIN, "admin rejudge", {"submission": sub.id})
    assert f"#{sub.id}" in done.messages[0].text
    assert await count(bot, Submission) == 2 and len(runner.jobs) == 1
    assert await count(bot, AdminAction, AdminAction.action == "rejudge") == 1
    with pytest.raises(Conflict):  # the new one is still queued: the member's job in flight
        await dispatch(bot, ADMIN, "admin rejudge", {"submission": sub.id})
    assert await count(bot, Submission) == 2 and len(runner.jobs) == 1
    assert await count(bot, AdminAction, AdminAction.action == "rejudge") == 1
