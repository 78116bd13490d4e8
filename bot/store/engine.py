"""The async engine and session factory, for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, exc
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
# The dashboard serves twenty clients at once, each request holding one connection for a few
# statements; the bot's other work needs a few more. SQLAlchemy's default (5 + 10 overflow) made
# requests queue for a connection, so the pool is sized for that concurrency.
POOL_SIZE = 20
POOL_OVERFLOW = 10


def make_engine(
    url: str,
    *,
    echo: bool = False,
    schema: str | None = None,
    idle_in_transaction_timeout_ms: int = IDLE_IN_TRANSACTION_TIMEOUT_MS,
    pool_size: int = POOL_SIZE,
) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    kwargs: dict[str, Any] = {"echo": echo}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30}
    else:
        # No ping before every checkout: it was a round trip per request. A connection the
        # server dropped (a restart, a terminated backend) is known closed to asyncpg as soon
        # as the loop has read the server's goodbye, so checkout asks it instead (see below).
        kwargs["pool_size"] = pool_size
        kwargs["max_overflow"] = POOL_OVERFLOW
        kwargs["pool_recycle"] = 3600
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

    else:

        @event.listens_for(engine.sync_engine, "checkout")
        def _refuse_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
            # Raising here makes the pool drop this connection and hand out a fresh one.
            raw = getattr(dbapi_conn, "_connection", None)
            if raw is not None and raw.is_closed():
                raise exc.DisconnectionError("the server closed this connection")

    return engine


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory used by every service."""
    return async_sessionmaker(engine, expire_on_commit=False)
