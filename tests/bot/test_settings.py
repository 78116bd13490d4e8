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
