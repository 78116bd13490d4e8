"""Canary secrets in every secret setting never reach logs, replies or doctor output.

Each secret setting gets a unique canary value; the real `studybot` process is then driven
through start-up failures, doctor and a few console commands, and everything it wrote (stdout,
stderr, log files) is scanned for every canary. The logs are also checked for their shape: JSON
lines when not a terminal, each line of a request naming the request, the cohort and the member.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIServer, Reply

STUDYBOT = [sys.executable, "-m", "bot"]
CANARIES = {
    "DISCORD_TOKEN": "canary.discord.Zq81",
    "SLACK_BOT_TOKEN": "xoxb-canary-slack-bot-Zq82",
    "SLACK_APP_TOKEN": "xapp-canary-slack-app-Zq83",
    "SLACK_SIGNING_SECRET": "canary-signing-Zq84",
    "OPENAI_API_KEY": "sk-canary-openai-Zq85",
}
DB_PASSWORD = "canarydbpwZq86"
REDIS_PASSWORD = "canaryredispwZq87"
RUNNER_PASSWORD = "canaryrunnerpwZq88"
ALL = [*CANARIES.values(), DB_PASSWORD, REDIS_PASSWORD, RUNNER_PASSWORD]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_password(url: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    creds, host = rest.split("@", 1) if "@" in rest else ("", rest)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:{password}@{host}"


@pytest.fixture
def fresh_pg(pg_url: str) -> Iterator[str]:
    """A new, migrated PostgreSQL database whose URL carries a canary password (trust auth)."""
    from sqlalchemy import text

    from bot.store.engine import make_engine
    from bot.store.migrate import upgrade

    name = f"canary_{uuid.uuid4().hex[:8]}"

    async def admin(sql: str) -> None:
        engine = make_engine(pg_url).execution_options(isolation_level="AUTOCOMMIT")
        async with engine.connect() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = pg_url.rsplit("/", 1)[0] + f"/{name}"
    url = _with_password(base if "@" in base else base.replace("://", "://postgres@"), DB_PASSWORD)
    upgrade(url)
    try:
        yield url
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DISCORD_", "SLACK_", "OPENAI_", "STUDYBOT_"))
    }
    env.update(CANARIES)
    env["STUDYBOT_LOG_LEVEL"] = "INFO"
    env["STUDYBOT_DATA_DIR"] = str(tmp_path)
    env["STUDYBOT_REDIS_URL"] = _with_password(redis_url, REDIS_PASSWORD)
    env["STUDYBOT_RUNNER_REDIS_URL"] = _with_password(redis_url, RUNNER_PASSWORD)
    env["STUDYBOT_DB_URL"] = f"postgresql://bot:{DB_PASSWORD}@127.0.0.1:{_closed_port()}/x"
    env["DISCORD_API_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}/api/v10"
    env["SLACK_API_BASE_URL"] = f"http://127.0.0.1:{_closed_port()}/api/"
    return env


def _run(args: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> str:
    result = subprocess.run(
        [*STUDYBOT, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=240,
    )
    return f"$ studybot {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}"


def _leaks(text: str) -> list[str]:
    return [canary for canary in ALL if canary in text]


def test_canary_secrets_never_appear_anywhere(
    tmp_path: Path, redis_url: str, fresh_pg: str
) -> None:
    env = _env(tmp_path, redis_url)
    captured: list[str] = []
    with OpenAIServer() as llm:
        # A provider that echoes the key it refused, as OpenAI's own error message does.
        llm.respond_with(
            Reply.error(401, f"Incorrect API key provided: {CANARIES['OPENAI_API_KEY']}")
        )
        env["OPENAI_BASE_URL"] = llm.base_url

        # start-up failures: the database unreachable, then the chat platforms unreachable
        captured.append(_run(["run"], env, tmp_path))
        captured.append(_run(["db", "upgrade"], env, tmp_path))
        captured.append(_run(["doctor"], env, tmp_path))
        env["STUDYBOT_DB_URL"] = fresh_pg
        env["STUDYBOT_GRADER_KIND"] = "llm"  # each answer goes to the refusing LLM
        captured.append(_run(["doctor", "--json"], env, tmp_path))
        captured.append(_run(["run"], env, tmp_path))
        env.pop("SLACK_SIGNING_SECRET")
        env.pop("SLACK_APP_TOKEN")
        captured.append(_run(["run"], env, tmp_path))  # HTTP mode without its secret

        # a few commands in the console, logs on stderr (not a terminal: JSON lines)
        chat = {k: env.pop(k) for k in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN")}
        commands = "\n".join(
            [
                "/help",
                "/cohort status",
                "/question E1-001",
                "/answer E1-001 Batching amortises the weight reads over many requests.",
                "/nonsense",
                "/quit",
            ]
        )
        console = _run(["console", "--verbose"], env, tmp_path, stdin=commands + "\n")
        captured.append(console)
        env.update(chat)
    for log_file in tmp_path.glob("*.log"):
        captured.append(log_file.read_text())

    everything = "\n".join(captured)
    assert _leaks(everything) == [], everything
    assert "***" in everything  # the masks are there, so the values were met and masked
    assert "answered in" in console  # the commands really ran

    request_lines = []
    for line in console.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            assert {"ts", "level", "logger", "msg"} <= entry.keys()
            if entry["logger"] == "studybot.requests":
                request_lines.append(entry)
    assert request_lines, console
    for entry in request_lines:
        assert entry["request_id"] and entry["member"] and entry["platform"] == "console"
    assert any(entry.get("cohort_id") for entry in request_lines)
    assert len({entry["request_id"] for entry in request_lines}) == len(request_lines)


def test_one_request_id_on_every_line_of_a_request() -> None:
    import logging

    from bot.logs import ContextFilter, JsonFormatter, log_context
    from bot.settings import Settings

    records: list[str] = []
    formatter = JsonFormatter(settings=Settings())

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(formatter.format(record))

    handler = Capture()
    handler.addFilter(ContextFilter())
    log = logging.getLogger("studybot.test.context")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False

    async def request(n: int) -> None:
        with log_context(request_id=f"req-{n}", cohort_id=n, member=f"U{n}"):
            log.info("start %s", n)
            await asyncio.sleep(0)
            await asyncio.create_task(asyncio.sleep(0))
            log.info("end %s", n)

    async def both() -> None:
        await asyncio.gather(request(1), request(2))

    try:
        asyncio.run(both())
        log.info("outside")
    finally:
        log.removeHandler(handler)
    entries = [json.loads(r) for r in records]
    for entry in entries[:-1]:
        n = int(entry["msg"].split()[-1])
        assert (entry["request_id"], entry["cohort_id"], entry["member"]) == (
            f"req-{n}",
            n,
            f"U{n}",
        )
    assert "request_id" not in entries[-1]
