"""A migrated throwaway database for a bench: a private PostgreSQL schema, or a SQLite file.

Not a bench itself; the benches that write to a database share it.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text

from bot.store.engine import make_engine
from bot.store.migrate import upgrade


async def _execute(url: str, sql: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


@contextlib.contextmanager
def scratch_database(pg_url: str | None) -> Iterator[tuple[str, str | None]]:
    """Yield (URL, schema) of a database migrated to head, dropped again afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        if not pg_url:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            upgrade(url)
            yield url, None
            return
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        asyncio.run(_execute(pg_url, f'CREATE SCHEMA "{schema}"'))
        try:
            upgrade(pg_url, schema=schema)
            yield pg_url, schema
        finally:
            asyncio.run(_execute(pg_url, f'DROP SCHEMA "{schema}" CASCADE'))
