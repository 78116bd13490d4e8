"""Shared fixtures: real services where the machine has them, else skipped (failed on CI)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlparse

import pytest

# Kernel track: Triton kernels checked in this process (not in a sandbox) run under Triton's
# interpreter, the only way they run on a CPU-only machine. The sandbox sets its own.
os.environ.setdefault("TRITON_INTERPRET", "1")

REQUIRE_SERVICES = os.environ.get("STUDYBOT_REQUIRE_SERVICES", "") not in ("", "0", "false")
TEST_PG_URL = os.environ.get(
    "STUDYBOT_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TEST_REDIS_URL = os.environ.get("STUDYBOT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def service_or_skip(name: str, url: str, default_port: int) -> str:
    """Return the service URL, or skip (fail under STUDYBOT_REQUIRE_SERVICES=1) when unreachable."""
    if _reachable(url, default_port):
        return url
    reason = f"{name} is not reachable at {url}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} and STUDYBOT_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis database for tests (db 15 by default), flushed by `redis_client`."""
    return service_or_skip("Redis", TEST_REDIS_URL, 6379)


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[object]:
    """A synchronous redis client on an emptied test database."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The PostgreSQL test server's URL (asyncpg driver)."""
    return service_or_skip("PostgreSQL", TEST_PG_URL, 5432)


# --- databases ---------------------------------------------------------------------------------

import asyncio  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest_asyncio  # noqa: E402


@dataclass
class Database:
    """A migrated test database: its backend, URL, engine and session factory."""

    backend: str
    url: str
    engine: object
    sessions: object
    schema: str | None = None


def _run_in_thread(coro: object) -> None:
    """Run a coroutine to completion on a fresh loop in a thread (fixtures may sit in a loop)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once; each test gets a copy."""
    from bot.store.migrate import upgrade

    path = tmp_path_factory.mktemp("db") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def pg_schema(pg_url: str) -> Iterator[str]:
    """A private PostgreSQL schema migrated to head once for this test session."""
    from sqlalchemy import text

    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    schema = f"t_{uuid.uuid4().hex[:10]}"

    async def _exec(sql: str) -> None:
        engine = make_engine(pg_url)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    _run_in_thread(_exec(f'CREATE SCHEMA "{schema}"'))
    upgrade(pg_url, schema=schema)
    yield schema
    _run_in_thread(_exec(f'DROP SCHEMA "{schema}" CASCADE'))


async def _truncate_all(engine: object) -> None:
    from sqlalchemy import text
    from sqlmodel import SQLModel

    import bot.store.models  # noqa: F401

    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    async with engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated, empty database on each backend: SQLite always, PostgreSQL when reachable."""
    from bot.store.engine import make_engine, make_session_factory

    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        url = f"sqlite+aiosqlite:///{path}"
        engine = make_engine(url)
        schema = None
    else:
        url = request.getfixturevalue("pg_url")
        schema = request.getfixturevalue("pg_schema")
        engine = make_engine(url, schema=schema)
        await _truncate_all(engine)
    yield Database(request.param, url, engine, make_session_factory(engine), schema)
    await engine.dispose()
