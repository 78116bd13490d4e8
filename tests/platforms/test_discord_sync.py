"""`sync_commands` against a local stand-in of the Discord HTTP API on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
import pytest_asyncio
from aiohttp import web

from bot.errors import StudyBotError
from bot.platforms.discord_app import StudyBotDiscord, sync_commands
from bot.settings import DiscordSettings, Settings, load_settings

APP_ID = 424242
USER = {"id": "1", "username": "studybot", "discriminator": "0", "avatar": None, "bot": True}


def _json(data: Any) -> web.Response:
    # discord.py decodes a body only when the content type is exactly application/json.
    return web.Response(
        body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
    )


class FakeDiscordApi:
    """Answers the few routes login and command sync use, and records the synced commands."""

    def __init__(self) -> None:
        self.synced: dict[str, list[dict[str, Any]]] = {}
        self.tokens: list[str] = []
        self._ids = itertools.count(900)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/users/@me", self.me)
        app.router.add_get("/oauth2/applications/@me", self.application)
        app.router.add_put("/applications/{app}/commands", self.sync)
        app.router.add_put("/applications/{app}/guilds/{guild}/commands", self.sync)
        return app

    async def me(self, request: web.Request) -> web.Response:
        self.tokens.append(request.headers.get("Authorization", ""))
        return _json(USER)

    async def application(self, request: web.Request) -> web.Response:
        return _json(
            {
                "id": str(APP_ID),
                "name": "StudyBot",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": USER,
                "verify_key": "k",
                "flags": 0,
            }
        )

    async def sync(self, request: web.Request) -> web.Response:
        body = await request.json()
        scope = request.match_info.get("guild", "global")
        assert request.match_info["app"] == str(APP_ID)
        self.synced[scope] = body
        answer = [
            {**cmd, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
            for cmd in body
        ]
        return _json(answer)


@pytest_asyncio.fixture
async def discord_api(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[FakeDiscordApi, str]]:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)  # restored after
    fake = FakeDiscordApi()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def settings_for(base_url: str | None, token: str | None = "MTIz.fake.bot-token") -> Settings:
    base = load_settings()
    return base.model_copy(update={"discord": DiscordSettings(token=token, api_base_url=base_url)})


async def expected_commands() -> list[str]:
    face = StudyBotDiscord(None)
    try:
        return sorted(c.name for c in face.tree.get_commands())
    finally:
        await face.close()


async def test_sync_to_one_guild_sends_the_whole_tree(
    discord_api: tuple[FakeDiscordApi, str],
) -> None:
    fake, url = discord_api
    names = await sync_commands(settings_for(url), 777)
    assert sorted(names) == await expected_commands()
    assert list(fake.synced) == ["777"]
    cohort = next(c for c in fake.synced["777"] if c["name"] == "cohort")
    assert {o["name"] for o in cohort["options"]} >= {"setup", "join", "status"}
    assert fake.tokens == ["Bot MTIz.fake.bot-token"]


async def test_sync_globally_without_a_guild(discord_api: tuple[FakeDiscordApi, str]) -> None:
    fake, url = discord_api
    await sync_commands(settings_for(url), None)
    assert list(fake.synced) == ["global"]


async def test_sync_without_a_token_says_so() -> None:
    with pytest.raises(StudyBotError, match="DISCORD_TOKEN"):
        await sync_commands(settings_for(None, token=None), None)
