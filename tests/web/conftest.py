"""The dashboard over a seeded database, on a fake clock, through an in-process HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.settings import load_settings
from tests.web.seed import NOW, Seeded, seed


@pytest.fixture
def web_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings as a deployment without a configured secret would have them."""
    for name in (
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "STUDYBOT_REDIS_URL",
        "STUDYBOT_WEB_SECRET",
        "STUDYBOT_WEB_BASE_URL",
        "STUDYBOT_WEB_PORT",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def web_bot(db: Any, web_env: None) -> StudyBot:
    """The bot over the test database, its clock stopped at NOW."""
    return StudyBot(
        settings=load_settings(), engine=db.engine, sessions=db.sessions, clock=FakeClock(NOW)
    )


@pytest_asyncio.fixture
async def seeded(web_bot: StudyBot) -> Seeded:
    """Two cohorts and their history."""
    return await seed(web_bot.sessions)


@pytest_asyncio.fixture
async def client(web_bot: StudyBot) -> AsyncIterator[Any]:
    """An HTTP client talking to the dashboard app in process."""
    import httpx

    from bot.platforms.web.app import create_app

    app = create_app(web_bot)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
        http.app = app  # type: ignore[attr-defined]
        yield http
