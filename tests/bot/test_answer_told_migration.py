"""Answers decided before grades were marked told count as told: the upgrade sends no old grade."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import text

from bot.store.engine import make_engine
from bot.store.migrate import upgrade

BEFORE = "c5b81e7d2a64"  # the revision before answers recorded when their grade was told


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    """A database migrated only up to the revision before `answer.told_at`: (url, schema)."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        upgrade(url, revision=BEFORE)
        yield url, None
        return
    url = request.getfixturevalue("pg_url")
    schema = f"t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    upgrade(url, schema=schema, revision=BEFORE)
    try:
        yield url, schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


async def test_the_upgrade_counts_decided_answers_as_told_and_pending_ones_as_not(
    old_db: tuple[str, Any],
) -> None:
    url, schema = old_db
    engine = make_engine(url, schema=schema)
    async with engine.begin() as conn:
        for answer_id, status, graded in (
            (1, "graded", datetime(2026, 12, 1, 10, tzinfo=UTC)),
            (2, "self_check", datetime(2026, 12, 1, 11, tzinfo=UTC)),
            (3, "pending", None),
        ):
            await conn.execute(
                text(
                    "INSERT INTO answer (id, question_id, text, source, status, attempts, "
                    "reply_to, created_at, graded_at) VALUES (:id, 'E1-005', 'x', 'command', "
                    ":status, 0, '{}', :created, :graded)"
                ),
                {
                    "id": answer_id,
                    "status": status,
                    "created": datetime(2026, 12, 1, 9, tzinfo=UTC),
                    "graded": graded,
                },
            )
    await engine.dispose()
    upgrade(url, schema=schema)
    engine = make_engine(url, schema=schema)
    async with engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT id, told_at IS NOT NULL FROM answer ORDER BY id"))
        ).all()
    await engine.dispose()
    assert [tuple(r) for r in rows] == [(1, True), (2, True), (3, False)]
