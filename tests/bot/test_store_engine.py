"""The engine's PostgreSQL session settings."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from bot.store.engine import make_engine


async def test_postgres_ends_a_session_left_idle_inside_a_transaction(pg_url: str) -> None:
    """A process paused mid-transaction loses its session, so its row locks are released."""
    engine = make_engine(pg_url, idle_in_transaction_timeout_ms=200)
    try:
        async with engine.connect() as conn:
            await conn.begin()
            await conn.execute(text("SELECT 1"))
            await asyncio.sleep(1.0)  # idle inside the open transaction, as a paused process is
            with pytest.raises(DBAPIError):
                await conn.execute(text("SELECT 1"))
        async with engine.connect() as conn:  # the pool hands out a healthy connection after
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
            setting = await conn.execute(text("SHOW idle_in_transaction_session_timeout"))
            assert setting.scalar() == "200ms"
    finally:
        await engine.dispose()


async def test_a_connection_the_server_dropped_is_replaced_at_checkout_without_a_ping(
    pg_url: str,
) -> None:
    """A pooled connection whose backend ended is not handed out: the next request just works."""
    engine = make_engine(pg_url)
    other = make_engine(pg_url)
    statements: list[str] = []
    try:
        async with engine.connect() as conn:
            pid = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        async with other.connect() as conn:  # an administrator (or a restart) ends that backend
            await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        await asyncio.sleep(0.2)

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            statements.append(statement)

        async with engine.connect() as conn:
            fresh = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar()
        assert fresh != pid
        assert statements == ["SELECT pg_backend_pid()"]  # no ping went before it
        assert engine.pool.size() >= 20  # sized for the dashboard's twenty clients
    finally:
        await engine.dispose()
        await other.dispose()
