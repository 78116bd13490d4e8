"""The async engine and session factory, for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

# No service holds a transaction across a platform, LLM or runner call, so a session idle inside
# a transaction for this long belongs to a process that was paused or hung mid-step: PostgreSQL
# ends it, which releases its row locks instead of leaving other processes waiting on them.
IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000


def make_engine(
    url: str,
    *,
    echo: bool = False,
    schema: str | None = None,
    idle_in_transaction_timeout_ms: int = IDLE_IN_TRANSACTION_TIMEOUT_MS,
) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs["pool_pre_ping"] = True
        server_settings = {
            "idle_in_transaction_session_timeout": str(idle_in_transaction_timeout_ms)
        }
        if schema:
            server_settings["search_path"] = schema
        kwargs["connect_args"] = {"server_settings": server_settings}
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            if ":memory:" not in url:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by every service."""
    return async_sessionmaker(engine, expire_on_commit=False)
