"""`studybot doctor`: every configured part checked, one line and a fix per failure, no secret."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web

from bot.doctor import check_discord, check_llm, check_slack, failed, render
from bot.settings import DiscordSettings, LLMSettings, Settings, SlackSettings
from tests.support.openai_server import OpenAIServer, Reply
from tests.support.slack_api_server import MockSlackApi

STUDYBOT = [sys.executable, "-m", "bot"]
CHAT_ENV = (
    "DISCORD_TOKEN",
    "DISCORD_API_BASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_BASE_URL",
    "STUDYBOT_REDIS_URL",
    "STUDYBOT_RUNNER_REDIS_URL",
    "STUDYBOT_RUNNER_BACKEND",
    "OPENAI_BASE_URL",
    "OPENAI_API_KEY",
    "STUDYBOT_DB_URL",
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CHAT_ENV}
    env["STUDYBOT_LOG_LEVEL"] = "WARNING"
    return env


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _doctor(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STUDYBOT, "doctor", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_a_fresh_embedded_default_passes_after_upgrade(tmp_path: Path) -> None:
    env = _env()  # no STUDYBOT_DB_URL: the embedded default, ./studybot.db in the working dir
    before = _doctor([], env, tmp_path)
    assert before.returncode == 1
    fails = [line for line in before.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "migrations" in fails[0] and "studybot db upgrade" in fails[0]

    upgrade = subprocess.run(
        [*STUDYBOT, "db", "upgrade"], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert upgrade.returncode == 0, upgrade.stderr
    result = _doctor(["--json"], env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_name = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is True
    assert by_name["database"]["status"] == "ok" and by_name["migrations"]["status"] == "ok"
    assert by_name["settings"]["status"] == "ok"
    assert by_name["discord"]["status"] == by_name["slack"]["status"] == "skip"
    for name in ("database", "migrations", "redis", "sandbox", "embeddings", "llm"):
        assert name in by_name


def test_a_database_url_pointing_nowhere_fails_with_one_line_per_problem(tmp_path: Path) -> None:
    env = _env()
    env["STUDYBOT_DB_URL"] = f"postgresql://bot:canary-pw-4411@127.0.0.1:{_closed_port()}/x"
    env["STUDYBOT_GRADER_KIND"] = "llm"  # skips the model load; the database is what is tested
    env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}/v1"
    result = _doctor([], env, tmp_path)
    assert result.returncode == 1
    out = result.stdout + result.stderr
    assert "canary-pw-4411" not in out and "Traceback" not in out
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1
    assert "database" in fails[0] and "bot:***@127.0.0.1" in fails[0]
    assert "STUDYBOT_DB_URL" in fails[0]  # the fix
    # the unreachable LLM is optional: a warning with its fix, not a failure
    warns = [line for line in result.stdout.splitlines() if line.startswith("WARN")]
    assert any("llm" in line and "OPENAI_BASE_URL" in line for line in warns)


def test_bad_settings_are_one_failing_line(tmp_path: Path) -> None:
    env = _env()
    env["STUDYBOT_DEFAULT_POST_TIME"] = "25:99"
    result = _doctor([], env, tmp_path)
    assert result.returncode == 1
    fails = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert len(fails) == 1 and "STUDYBOT_DEFAULT_POST_TIME" in fails[0]


async def test_slack_token_is_checked_with_an_identity_call() -> None:
    async with MockSlackApi(token="xoxb-good-canary-1") as api:
        good = Settings(
            slack=SlackSettings(
                bot_token="xoxb-good-canary-1", signing_secret="s3cr3t", api_base_url=api.base_url
            )
        )
        ok = await check_slack(good)
        assert ok.status == "ok" and "UBOTUSER1" in ok.detail
        assert api.calls_to("auth.test")

        bad = Settings(
            slack=SlackSettings(
                bot_token="xoxb-bad-canary-2", signing_secret="s3cr3t", api_base_url=api.base_url
            )
        )
        refused = await check_slack(bad)
    assert refused.status == "fail" and "invalid_auth" in refused.detail and refused.fix
    text = render([refused], as_json=False, settings=bad)
    assert "xoxb-bad-canary-2" not in text and failed([refused])


async def test_llm_endpoint_gets_one_tiny_request() -> None:
    with OpenAIServer() as server:
        server.script(Reply.chat("OK"), Reply.error(401, "bad key"))
        settings = Settings(llm=LLMSettings(base_url=server.base_url, api_key="sk-canary-llm-9"))
        ok = await check_llm(settings)
        assert ok.status == "ok"
        request = server.chat_requests[0].json
        assert request["max_tokens"] == 1
        refused = await check_llm(settings)
    assert refused.status == "warn" and "401" in refused.detail
    assert not failed([refused])  # an LLM is optional: offline grading goes on
    assert "sk-canary-llm-9" not in render([refused], as_json=True, settings=settings)


async def test_discord_token_is_checked_with_an_identity_call() -> None:
    async def me(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bot good.discord.token":
            return web.json_response({"message": "401: Unauthorized"}, status=401)
        return web.json_response({"id": "42", "username": "studybot"})

    app = web.Application()
    app.router.add_get("/api/v10/users/@me", me)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{port}/api/v10"
    try:
        good = await check_discord(
            Settings(discord=DiscordSettings(token="good.discord.token", api_base_url=base))
        )
        bad = await check_discord(
            Settings(discord=DiscordSettings(token="bad.discord.token", api_base_url=base))
        )
    finally:
        await runner.cleanup()
    assert good.status == "ok" and "studybot" in good.detail
    assert bad.status == "fail" and "401" in bad.detail and "Reset Token" in bad.fix


@pytest.mark.parametrize("status", ["ok", "warn", "fail", "skip"])
def test_each_line_says_its_status(status: str) -> None:
    from bot.doctor import Check

    line = Check("redis", status, "found", "do this").line()  # type: ignore[arg-type]
    assert ("do this" in line) == (status in ("warn", "fail"))
