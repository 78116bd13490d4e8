"""The migrations produce exactly the models' schema, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from bot.store.migrate import current_revision, head_revision, pending_message


async def test_migrations_match_models(db: Any) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        ctx = MigrationContext.configure(sync_conn, opts={"compare_type": True})
        return compare_metadata(ctx, SQLModel.metadata)

    async with db.engine.connect() as conn:
        differences = await conn.run_sync(diff)
    assert differences == []


async def test_database_is_at_head(db: Any) -> None:
    assert await current_revision(db.engine) == head_revision()
    assert await pending_message(db.engine) is None


async def test_unmigrated_database_is_refused_with_the_fix(tmp_path: Any) -> None:
    from bot.store.engine import make_engine

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        message = await pending_message(engine)
    finally:
        await engine.dispose()
    assert message is not None
    assert "never been migrated" in message
    assert "studybot db upgrade" in message
