"""The engine's PostgreSQL session settings."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
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
