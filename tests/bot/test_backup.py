"""Backup and restore round trips on SQLite (online backup API) and PostgreSQL (pg_dump)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from bot.backup import backup, restore
from bot.errors import InvalidInput
from bot.store.engine import make_engine, make_session_factory
from bot.store.migrate import current_revision, head_revision, upgrade
from bot.store.models import Cohort, Member

STUDYBOT = [sys.executable, "-m", "bot"]


async def seed(url: str, names: list[str]) -> None:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        for name in names:
            cohort = Cohort(
                name=name,
                platform="slack",
                workspace_id="T",
                channel_id=name,
                start_date=date(2026, 12, 1),
            )
            session.add(cohort)
            await session.flush()
            assert cohort.id is not None
            session.add(Member(cohort_id=cohort.id, platform_user_id=f"U-{name}"))
        await session.commit()
    await engine.dispose()


async def state(url: str) -> tuple[list[str], int, str | None]:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        names = list((await session.execute(select(Cohort.name).order_by(Cohort.name))).scalars())
        members = (await session.execute(select(func.count()).select_from(Member))).scalar_one()
    revision = await current_revision(engine)
    await engine.dispose()
    return names, members, revision


async def damage(url: str) -> None:
    engine = make_engine(url)
    async with make_session_factory(engine)() as session:
        await session.execute(delete(Member))
        await session.execute(delete(Cohort).where(Cohort.name == "alpha"))
        await session.commit()
    await engine.dispose()
    await seed(url, ["zulu"])


def test_sqlite_round_trip_while_a_connection_is_open(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    asyncio.run(seed(url, ["alpha", "beta"]))
    before = asyncio.run(state(url))

    async def backup_while_writing() -> None:
        engine = make_engine(url)  # a bot still holding the database (WAL mode)
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
            report = await asyncio.to_thread(backup, url, tmp_path / "backups" / "b.sqlite")
            assert report.backend == "sqlite" and report.size_bytes > 0
        await engine.dispose()

    asyncio.run(backup_while_writing())
    asyncio.run(damage(url))
    assert asyncio.run(state(url)) != before
    restore(url, tmp_path / "backups" / "b.sqlite")
    assert asyncio.run(state(url)) == before
    assert before[0] == ["alpha", "beta"] and before[1] == 2 and before[2] == head_revision()

    # and into a database that does not exist yet (a new machine)
    elsewhere = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'bot.db'}"
    restore(elsewhere, tmp_path / "backups" / "b.sqlite")
    assert asyncio.run(state(elsewhere)) == before


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    name = f"backup_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = make_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    scheme, rest = pg_url.rsplit("/", 1)[0].split("://", 1)
    host = rest.split("@", 1)[-1]
    user = rest.split("@", 1)[0].split(":")[0] if "@" in rest else "postgres"
    url = f"{scheme}://{user}:backup-canary-pw@{host}/{name}"  # trust auth ignores it
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


def studybot(args: list[str], url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STUDYBOT_")}
    env["STUDYBOT_DB_URL"] = url
    return subprocess.run(
        [*STUDYBOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_postgres_round_trip_through_the_command_line(fresh_pg: str, tmp_path: Path) -> None:
    asyncio.run(seed(fresh_pg, ["alpha", "beta", "gamma"]))
    before = asyncio.run(state(fresh_pg))
    made = studybot(["backup", str(tmp_path / "bot.dump")], fresh_pg, tmp_path)
    assert made.returncode == 0, made.stderr
    assert "backup-canary-pw" not in made.stdout + made.stderr and "postgresql" in made.stdout
    asyncio.run(damage(fresh_pg))
    assert asyncio.run(state(fresh_pg)) != before

    refused = studybot(["restore", str(tmp_path / "bot.dump")], fresh_pg, tmp_path)
    assert refused.returncode != 0  # no confirmation on a closed stdin: nothing replaced
    assert asyncio.run(state(fresh_pg)) != before

    done = studybot(["restore", "--yes", str(tmp_path / "bot.dump")], fresh_pg, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "backup-canary-pw" not in done.stdout + done.stderr
    after = asyncio.run(state(fresh_pg))
    assert after == before and after[1] == 3 and after[2] == head_revision()


def test_a_backup_of_the_other_kind_or_no_backup_is_refused(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    upgrade(url)
    backup(url, tmp_path / "b.sqlite")
    with pytest.raises(InvalidInput, match="sqlite backup"):
        restore("postgresql+asyncpg://u:p@127.0.0.1:1/x", tmp_path / "b.sqlite")
    (tmp_path / "junk").write_text("hello")
    with pytest.raises(InvalidInput, match="not a StudyBot backup"):
        restore(url, tmp_path / "junk")
    with pytest.raises(InvalidInput, match="no backup file"):
        restore(url, tmp_path / "missing")
