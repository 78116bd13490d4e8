"""Settings fail fast with one clear line naming the variable and the fix."""

from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in (
        "STUDYBOT_DB_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_APP_TOKEN",
        "DISCORD_TOKEN",
        "STUDYBOT_DEFAULT_TIMEZONE",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env


def test_defaults_are_the_embedded_bot() -> None:
    settings = load_settings()
    assert settings.db.url == "sqlite+aiosqlite:///./studybot.db"
    assert settings.discord.token is None and settings.slack.bot_token is None
    assert not settings.llm_configured
    assert settings.schedule.missed_post_grace_hours == 6


def test_plain_postgres_url_gets_the_asyncpg_driver(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYBOT_DB_URL", "postgresql://bot:pw@db:5432/studybot")
    assert load_settings().db.url == "postgresql+asyncpg://bot:pw@db:5432/studybot"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("STUDYBOT_DB_URL", "mysql://x/y", "STUDYBOT_DB_URL: unsupported database URL"),
        ("DISCORD_TOKEN", "changeme", "DISCORD_TOKEN looks like a placeholder"),
        ("SLACK_BOT_TOKEN", "<your-token>", "SLACK_BOT_TOKEN looks like a placeholder"),
        ("SLACK_BOT_TOKEN", "xapp-1-abc", "must be a bot token starting with xoxb-"),
        ("STUDYBOT_DEFAULT_TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("OPENAI_BASE_URL", "localhost:8000", "OPENAI_BASE_URL must be an http(s) URL"),
    ],
)
def test_bad_values_fail_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    text = str(info.value)
    assert expected in text
    assert "\n" not in text
    assert text.startswith("Configuration error:")


def test_dotenv_file_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    from pathlib import Path

    Path(str(tmp_path), ".env").write_text("STUDYBOT_DEFAULT_TIMEZONE=Asia/Tokyo\n")
    assert load_settings().schedule.default_timezone == "Asia/Tokyo"


@pytest.mark.parametrize("value", ["25:99", "8am", "24:00", "08:60", "0800"])
def test_a_bad_post_time_says_the_format_with_an_example(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("STUDYBOT_DEFAULT_POST_TIME", value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "STUDYBOT_DEFAULT_POST_TIME" in str(info.value)
    assert "use HH:MM, e.g. 08:00" in str(info.value)


def test_post_time_accepts_hh_mm(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import time

    monkeypatch.setenv("STUDYBOT_DEFAULT_POST_TIME", "7:05")
    assert load_settings().schedule.default_post_time == time(7, 5)


def test_one_redis_url_for_the_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STUDYBOT_RUNNER_REDIS_URL", raising=False)
    monkeypatch.setenv("STUDYBOT_REDIS_URL", "redis://cache:6379/0")
    settings = load_settings()
    assert settings.redis_url == "redis://cache:6379/0"
    assert settings.runner_broker_url == "redis://cache:6379/0"
    monkeypatch.setenv("STUDYBOT_RUNNER_REDIS_URL", "redis://broker:6379/1")
    assert load_settings().runner_broker_url == "redis://broker:6379/1"
    monkeypatch.setenv("STUDYBOT_REDIS_URL", "http://cache:6379")
    with pytest.raises(SettingsError, match="STUDYBOT_REDIS_URL must be a redis:// URL"):
        load_settings()


def test_the_grade_cache_and_budgets_use_the_documented_redis_setting() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text()
    assert "`STUDYBOT_REDIS_URL`" in readme
    for example in root.glob(".env*.example"):
        assert "STUDYBOT_REDIS_URL=" in example.read_text(), example.name
    app = (root / "bot" / "app.py").read_text()
    assert "self.settings.redis_url" in app


def test_urls_and_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.settings import mask_secrets, redact_url

    assert (
        redact_url("postgresql+asyncpg://studybot:s3cr%40t@db:5432/studybot")
        == "postgresql+asyncpg://studybot:***@db:5432/studybot"
    )
    assert redact_url("sqlite+aiosqlite:///./studybot.db") == "sqlite+aiosqlite:///./studybot.db"
    assert redact_url("redis://:pw@redis:6379/0") == "redis://:***@redis:6379/0"
    monkeypatch.setenv("STUDYBOT_DB_URL", "postgresql://bot:hunter22@db/x")
    monkeypatch.setenv("DISCORD_TOKEN", "MTIzNDU2.Gabcde.secretsecret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-abcdef")
    settings = load_settings()
    text = mask_secrets(
        "token MTIzNDU2.Gabcde.secretsecret key sk-live-abcdef pw hunter22 at "
        "postgresql+asyncpg://bot:hunter22@db/x",
        settings,
    )
    assert "secretsecret" not in text and "sk-live" not in text and "hunter22" not in text
    assert "postgresql+asyncpg://bot:***@db/x" in text


def test_a_bad_database_url_does_not_echo_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDYBOT_DB_URL", "mysql://bot:hunter22@db/x")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "hunter22" not in str(info.value) and "mysql://bot:***@db/x" in str(info.value)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"SLACK_BOT_TOKEN": "xoxb-1-2-3"}, "SLACK_SIGNING_SECRET is not set"),
        ({"SLACK_APP_TOKEN": "xapp-1-2"}, "SLACK_APP_TOKEN is set without SLACK_BOT_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_APP_TOKEN": "xapp-1-2"}, None),
        ({"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "abc123"}, None),
        ({}, None),
    ],
)
def test_slack_settings_that_cannot_start_are_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str | None
) -> None:
    from bot.settings import startup_problem

    monkeypatch.delenv("SLACK_SIGNING_SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    problem = startup_problem(load_settings())
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem and "\n" not in problem
