"""Start-up as an operator meets it: one line naming the setting and the fix, exit 2, no secret."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

STUDYBOT = [sys.executable, "-m", "bot"]
HEAVY = ("content.library", "torch", "discord", "slack_bolt", "slack_sdk", "sqlalchemy", "graders")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STUDYBOT_DB_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["STUDYBOT_LOG_LEVEL"] = "WARNING"
    for name in (
        "DISCORD_TOKEN",
        "DISCORD_API_BASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_API_BASE_URL",
        "STUDYBOT_REDIS_URL",
    ):
        env.pop(name, None)
    return env


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def studybot(
    args: list[str], env: dict[str, str], cwd: Path, **extra: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*STUDYBOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        **({"input": extra["input"]} if "input" in extra else {"stdin": subprocess.DEVNULL}),  # type: ignore[arg-type]
    )


def migrated(env: dict[str, str], cwd: Path) -> None:
    assert studybot(["db", "upgrade"], env, cwd).returncode == 0


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def test_discord_unreachable_is_one_line_naming_the_token(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrated(env, tmp_path)
    env["DISCORD_TOKEN"] = "MTIzNDU2Nzg5.Gabcde.not-a-real-token-secret"
    env["DISCORD_API_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/api/v10"
    line = one_error_line(studybot(["run"], env, tmp_path))
    assert "DISCORD_TOKEN" in line and "Cannot reach" in line
    assert "not-a-real-token-secret" not in line


def test_slack_without_signing_secret_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    migrated(env, tmp_path)
    env["SLACK_BOT_TOKEN"] = "xoxb-1-2-secretpart"
    line = one_error_line(studybot(["run"], env, tmp_path))
    assert "SLACK_SIGNING_SECRET" in line and "SLACK_APP_TOKEN" in line


def test_socket_mode_unreachable_fails_once_instead_of_retrying(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrated(env, tmp_path)
    env["SLACK_BOT_TOKEN"] = "xoxb-1-2-secretpart"
    env["SLACK_APP_TOKEN"] = "xapp-1-2-secretpart"
    env["SLACK_API_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/api/"
    line = one_error_line(studybot(["run"], env, tmp_path))
    assert "SLACK_BOT_TOKEN" in line and "secretpart" not in line


def test_require_chat_without_a_token_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    migrated(env, tmp_path)
    line = one_error_line(studybot(["run", "--require-chat"], env, tmp_path, input="/quit\n"))
    assert "DISCORD_TOKEN or SLACK_BOT_TOKEN" in line


def test_database_passwords_are_masked_in_start_up_and_upgrade_errors(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["STUDYBOT_DB_URL"] = f"postgresql://studybot:hunter22pw@127.0.0.1:{closed_port()}/x"
    for args, kwargs in ((["db", "upgrade"], {}), (["console"], {"input": "/quit\n"})):
        result = studybot(args, env, tmp_path, **kwargs)
        assert result.returncode == 2
        assert "hunter22pw" not in result.stdout + result.stderr
        assert "studybot:***@127.0.0.1" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_bad_post_time_is_one_line_with_the_format(env: dict[str, str], tmp_path: Path) -> None:
    env["STUDYBOT_DEFAULT_POST_TIME"] = "25:99"
    line = one_error_line(studybot(["run"], env, tmp_path))
    assert "STUDYBOT_DEFAULT_POST_TIME" in line and "use HH:MM, e.g. 08:00" in line


def test_platform_refusals_name_the_setting() -> None:
    import discord
    from slack_sdk.errors import SlackApiError

    from bot.cli import describe_startup_failure
    from bot.settings import load_settings

    settings = load_settings()
    login = describe_startup_failure(discord.LoginFailure("Improper token"), settings)
    assert login is not None and "DISCORD_TOKEN was rejected" in login
    refused = describe_startup_failure(
        SlackApiError("auth.test failed", {"ok": False, "error": "invalid_auth"}), settings
    )
    assert refused is not None and "SLACK_BOT_TOKEN was rejected by Slack (invalid_auth)" in refused
    assert describe_startup_failure(ValueError("a bug"), settings) is None  # not hidden


def _record(message: str, exc: BaseException) -> logging.LogRecord:
    try:
        raise exc
    except BaseException:
        return logging.LogRecord("x", logging.ERROR, __file__, 1, message, None, sys.exc_info())


def test_reconnects_are_one_line_each_with_the_delay() -> None:
    from bot.cli import OneLineReconnects

    formatter = logging.Formatter("%(levelname)s %(message)s")
    slack = _record(
        "Failed to connect (error: Cannot connect to host slack.com:443); Retrying...",
        OSError("Name or service not known"),
    )
    discord = _record("Attempting a reconnect in 4.21s", ConnectionResetError("reset by peer"))
    for record in (slack, discord):
        assert OneLineReconnects().filter(record)
    slack_line, discord_line = formatter.format(slack), formatter.format(discord)
    assert "\n" not in slack_line and "\n" not in discord_line
    assert "retrying in 10s" in slack_line and "slack.com" in slack_line
    assert "reconnecting in 4.21s" in discord_line and "reset by peer" in discord_line


def test_importing_the_cli_loads_nothing_heavy() -> None:
    code = (
        "import sys, bot.cli; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules or "
        "any(k.startswith(m + '.') for k in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_help_lists_every_command_and_lazy_ones_run(env: dict[str, str], tmp_path: Path) -> None:
    result = studybot(["--help"], env, tmp_path)
    assert result.returncode == 0
    for name in ("run", "console", "demo", "db", "content", "question", "drill", "grade"):
        assert f" {name} " in result.stdout
    shown = studybot(["question", "E1-003"], env, tmp_path)
    assert shown.returncode == 0 and "backpropagation" in shown.stdout


def test_log_lines_and_tracebacks_mask_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.cli import MaskingFormatter
    from bot.settings import load_settings

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-verysecret")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-2-alsosecret")
    formatter = MaskingFormatter("%(message)s", settings=load_settings())
    record = _record(
        "calling with xoxb-1-2-verysecret on redis://:pw1234@cache:6379/0",
        RuntimeError("token xapp-1-2-alsosecret refused"),
    )
    line = formatter.format(record)
    assert "verysecret" not in line and "alsosecret" not in line and "pw1234" not in line
    assert "redis://:***@cache:6379/0" in line and "RuntimeError" in line
