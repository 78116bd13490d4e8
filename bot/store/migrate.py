"""Apply and inspect Alembic migrations from code (`studybot db upgrade`, start-up check)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str, *, schema: str | None = None) -> Config:
    """Build the Alembic config for a database URL, without alembic.ini."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def head_revision() -> str | None:
    """Return the newest revision in the migrations folder."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def upgrade(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Apply migrations up to `revision`, blocking (in a thread if an event loop is running)."""
    cfg = alembic_config(url, schema=schema)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        command.upgrade(cfg, revision)
        return
    # Alembic's async env starts its own event loop, which cannot nest in a running one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(command.upgrade, cfg, revision).result()


async def upgrade_async(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply migrations on an engine from inside an event loop."""
    cfg = alembic_config(str(engine.url))

    def _run(sync_conn: object) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(_run)


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at (None when never migrated)."""

    def _read(sync_conn: object) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]

    async with engine.connect() as conn:
        return await conn.run_sync(_read)


async def pending_message(engine: AsyncEngine) -> str | None:
    """Explain what is wrong when the database is not at the head revision, else None."""
    current, head = await current_revision(engine), head_revision()
    if current == head:
        return None
    state = "has never been migrated" if current is None else f"is at revision {current}"
    return f"The database {state}, the code needs {head}. Run: studybot db upgrade"
