"""The points ledger: one event per (member, reason, ref), rolled up once, under concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlmodel import select

from bot.domain.scoring import Reason
from bot.store import points as points_store
from bot.store.models import Cohort, Member, MemberDay, MemberStanding, PointsEvent

AT = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 1 Dec in UTC, 2 Dec in Tokyo


async def seed(db: Any, *, member_tz: str | None = None) -> tuple[int, int]:
    async with db.sessions() as session:
        cohort = Cohort(
            name="c",
            platform="console",
            workspace_id="w",
            channel_id="ch",
            timezone="UTC",
            post_time=time(8),
            start_date=date(2026, 12, 1),
        )
        session.add(cohort)
        await session.flush()
        member = Member(cohort_id=cohort.id, platform_user_id="u1", timezone=member_tz)
        session.add(member)
        await session.commit()
        return int(cohort.id or 0), int(member.id or 0)


async def award(session: Any, cohort_id: int, member_id: int, **kw: Any) -> bool:
    values = {"reason": Reason.ANSWER, "ref": "answer:1", "points": 12, "at": AT}
    values.update(kw)
    return await points_store.record_award(
        session, cohort_id=cohort_id, member_id=member_id, local_day=AT.date(), **values
    )


async def all_rows(db: Any, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def test_an_award_is_written_and_rolled_up_once_per_member_reason_and_ref(db: Any) -> None:
    cohort_id, member_id = await seed(db, member_tz="Asia/Tokyo")
    async with db.sessions() as session:
        assert await award(session, cohort_id, member_id)
        assert not await award(session, cohort_id, member_id)  # a retry
        # The same source may pay a different reason, once.
        assert await award(session, cohort_id, member_id, reason=Reason.CORRECTION, points=4)
        await session.commit()
    events = await all_rows(db, PointsEvent)
    assert sorted((e.reason, e.points) for e in events) == [("answer", 12), ("correction", 4)]
    (day,) = await all_rows(db, MemberDay)
    assert day.day == date(2026, 12, 2) and day.tz == "Asia/Tokyo"  # the member's own day
    assert day.points == 16 and day.answers == 1
    (standing,) = await all_rows(db, MemberStanding)
    assert standing.points == 16 and standing.streak == 1 and standing.streak_day == day.day


@pytest_asyncio.fixture
async def pg_db(pg_url: str, pg_schema: str) -> AsyncIterator[Any]:
    """The migrated PostgreSQL test schema, emptied: concurrent writers need a real server."""
    from bot.store.engine import make_engine, make_session_factory
    from tests.conftest import Database, _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    await _truncate_all(engine)
    yield Database("postgres", pg_url, engine, make_session_factory(engine), pg_schema)
    await engine.dispose()


@pytest.mark.postgres
async def test_two_writers_awarding_the_same_thing_at_once_write_it_once(pg_db: Any) -> None:
    db = pg_db
    from bot.store.engine import make_engine, make_session_factory

    cohort_id, member_id = await seed(db)
    other = make_engine(db.url, schema=db.schema)
    try:
        first, second = db.sessions(), make_session_factory(other)()
        async with first, second:
            assert await award(first, cohort_id, member_id)  # holds the key, uncommitted
            pid = (await second.execute(text("SELECT pg_backend_pid()"))).scalar()
            racing = asyncio.create_task(award(second, cohort_id, member_id))
            for _ in range(500):  # until the second writer waits on the first's key
                async with db.sessions() as probe:
                    waiting = (
                        await probe.execute(
                            text("SELECT count(*) FROM pg_locks WHERE pid = :p AND NOT granted"),
                            {"p": pid},
                        )
                    ).scalar()
                if waiting:
                    break
                await asyncio.sleep(0.01)
            assert waiting, "the second writer never reached the unique key"
            await first.commit()
            assert await racing is False
            await second.commit()
    finally:
        await other.dispose()
    assert len(await all_rows(db, PointsEvent)) == 1
    (standing,) = await all_rows(db, MemberStanding)
    assert standing.points == 12


@pytest.mark.postgres
async def test_writers_in_two_processes_at_once_write_each_award_once(pg_db: Any) -> None:
    db = pg_db
    cohort_id, member_id = await seed(db)
    script = Path(__file__).with_name("points_writer.py")
    procs = [
        await asyncio.create_subprocess_exec(
            *(__import__("sys").executable, str(script), db.url, db.schema),
            *(str(cohort_id), str(member_id)),
        )
        for _ in range(2)
    ]
    assert [await p.wait() for p in procs] == [0, 0]
    events = await all_rows(db, PointsEvent)
    assert len(events) == 20  # each of the 20 refs once, though both processes wrote all 20
    (standing,) = await all_rows(db, MemberStanding)
    assert standing.points == sum(e.points for e in events)
    (day,) = await all_rows(db, MemberDay)
    assert day.points == standing.points and day.answers == 20


async def test_the_migration_rewrites_old_events_to_the_weighted_rule(tmp_path: Path) -> None:
    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
    upgrade(url, revision="5d1e7a3c9b20")
    engine = make_engine(url)
    async with engine.begin() as conn:
        for sql in (
            "INSERT INTO cohort (id, name, platform, workspace_id, channel_id, timezone, "
            "post_time, start_date, curriculum_length, post_weekdays, day_shift, paused, "
            "answers_public, created_at, updated_at) VALUES (1, 'c', 'console', 'w', 'ch', "
            "'UTC', '08:00:00', '2026-12-01', 133, '0123456', 0, 0, 0, "
            "'2026-12-01 00:00:00', '2026-12-01 00:00:00')",
            "INSERT INTO member (id, cohort_id, platform_user_id, display_name, is_admin, "
            "active, joined_at) VALUES (1, 1, 'u1', 'u', 0, 1, '2026-12-01 00:00:00')",
        ):
            await conn.execute(text(sql))
        # E1-001 is a warm-up (x1), E1-005 medium (x2); D999-01 is unknown (counts as M).
        for answer_id, qid in ((1, "E1-001"), (2, "E1-005"), (3, "D999-01")):
            await conn.execute(
                text(
                    "INSERT INTO answer (id, cohort_id, member_id, question_id, text, source, "
                    "status, attempts, reply_to, created_at) VALUES (:id, 1, 1, :q, 'x', "
                    "'command', 'graded', 0, '{}', '2026-12-01 00:00:00')"
                ),
                {"id": answer_id, "q": qid},
            )
        old = [
            ("answer", "answer:1", 7, "2026-12-01 10:00:00"),
            ("answer", "answer:2", 8, "2026-12-02 10:00:00"),
            ("answer", "answer:3", 5, "2026-12-02 11:00:00"),
            ("mock", "mock:4:candidate", 20, "2026-12-03 10:00:00"),
            ("drill", "drill:first:9", 10, "2026-12-03 11:00:00"),
        ]
        for kind, ref, points, created in old:
            await conn.execute(
                text(
                    "INSERT INTO points_event (cohort_id, member_id, kind, ref, points, "
                    "local_day, created_at) VALUES (1, 1, :k, :r, :p, :d, :c)"
                ),
                {"k": kind, "r": ref, "p": points, "d": created[:10], "c": created},
            )
    await engine.dispose()
    upgrade(url)
    engine = make_engine(url)
    async with engine.connect() as conn:
        events = (await conn.execute(text("SELECT ref, reason, points FROM points_event"))).all()
        standing = (
            await conn.execute(text("SELECT points, streak, mocks FROM member_standing"))
        ).one()
        days = (await conn.execute(text("SELECT count(*) FROM member_day"))).scalar()
    await engine.dispose()
    assert sorted(events) == [
        ("answer:1", "answer", 7),
        ("answer:2", "answer", 16),
        ("answer:3", "answer", 10),
        ("drill:first:9", "drill_first", 10),
        ("mock:4:candidate", "mock_candidate", 20),
    ]
    assert tuple(standing) == (63, 3, 1) and days == 3
