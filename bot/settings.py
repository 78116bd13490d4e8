"""Typed settings, one section per concern, read once at start and validated (fail fast)."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import StudyBotError

_PLACEHOLDER = re.compile(
    r"^(changeme|change[-_ ]?me|todo|xxx+|your[-_ ].*|<.*>|placeholder|dummy|token|secret|\.\.\.)$",
    re.IGNORECASE,
)
_ENV = {"env_file": ".env", "env_file_encoding": "utf-8", "extra": "ignore"}


class SettingsError(StudyBotError):
    """A setting is missing, malformed or a placeholder; the message names it and the fix."""


def _reject_placeholder(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if _PLACEHOLDER.match(value):
        raise ValueError(
            f"{name} looks like a placeholder ({value!r}); set the real value or unset it"
        )
    return value


def validate_timezone(name: str) -> str:
    """Return the IANA zone name if it exists, else raise ValueError saying how to fix it."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or America/Chicago"
        ) from None
    return name


class DatabaseSettings(BaseSettings):
    """Where the state lives: SQLite (embedded default) or PostgreSQL through asyncpg."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_DB_", **_ENV)  # type: ignore[typeddict-item]

    url: str = "sqlite+aiosqlite:///./studybot.db"
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        value = value.strip()
        for plain, driver in (
            ("postgres://", "postgresql+asyncpg://"),
            ("postgresql://", "postgresql+asyncpg://"),
            ("sqlite:///", "sqlite+aiosqlite:///"),
        ):
            if value.startswith(plain):
                return driver + value[len(plain) :]
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                f"unsupported database URL {value!r}; use sqlite+aiosqlite:///./studybot.db "
                "or postgresql+asyncpg://user:password@host:5432/dbname"
            )
        return value

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the URL names a SQLite database."""
        return self.url.startswith("sqlite")


class DiscordSettings(BaseSettings):
    """The Discord face: enabled when a token is set."""

    model_config = SettingsConfigDict(env_prefix="DISCORD_", **_ENV)  # type: ignore[typeddict-item]

    token: str | None = None
    application_id: int | None = None
    api_base_url: str | None = None  # only for tests against a local Discord API stand-in

    @field_validator("token")
    @classmethod
    def _check_token(cls, value: str | None) -> str | None:
        return _reject_placeholder(value, "DISCORD_TOKEN")


class SlackSettings(BaseSettings):
    """The Slack face: Socket Mode with an app token, HTTP mode (signed requests) without."""

    model_config = SettingsConfigDict(env_prefix="SLACK_", **_ENV)  # type: ignore[typeddict-item]

    bot_token: str | None = None
    app_token: str | None = None
    signing_secret: str | None = None
    port: int = 3000
    api_base_url: str | None = None  # a local mock Slack Web API server in tests

    @field_validator("bot_token", "app_token", "signing_secret")
    @classmethod
    def _check_secret(cls, value: str | None, info: object) -> str | None:
        name = "SLACK_" + str(getattr(info, "field_name", "")).upper()
        value = _reject_placeholder(value, name)
        if value and name == "SLACK_BOT_TOKEN" and not value.startswith("xoxb-"):
            raise ValueError("SLACK_BOT_TOKEN must be a bot token starting with xoxb-")
        if value and name == "SLACK_APP_TOKEN" and not value.startswith("xapp-"):
            raise ValueError("SLACK_APP_TOKEN must be an app-level token starting with xapp-")
        return value


class LLMSettings(BaseSettings):
    """An OpenAI-compatible endpoint for the LLM grader (OpenAI, vLLM, Ollama, LM Studio)."""

    model_config = SettingsConfigDict(env_prefix="OPENAI_", **_ENV)  # type: ignore[typeddict-item]

    base_url: str | None = None
    api_key: str | None = None

    @field_validator("api_key")
    @classmethod
    def _check_key(cls, value: str | None) -> str | None:
        return _reject_placeholder(value, "OPENAI_API_KEY")

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"OPENAI_BASE_URL must be an http(s) URL, got {value!r}")
        return value or None


class GraderSettings(BaseSettings):
    """How answers are graded."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_GRADER_", **_ENV)  # type: ignore[typeddict-item]

    model: str = "gpt-4o-mini"
    kind: Literal["auto", "offline", "llm", "cascade"] = "auto"
    timeout_s: float = Field(default=30.0, gt=0)
    # One deadline for a whole grade (every attempt and wait); past it the answer stays saved
    # and is graded on a later retry.
    deadline_s: float = Field(default=60.0, gt=0)
    # json_schema (structured outputs), json_object, or text for servers with neither.
    response_format: Literal["json_schema", "json_object", "text"] = "json_schema"
    daily_token_budget: int = Field(default=200_000, ge=0)


class ScheduleSettings(BaseSettings):
    """The daily post schedule."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_", **_ENV)  # type: ignore[typeddict-item]

    default_timezone: str = "UTC"
    default_post_time: time = time(8, 0)
    missed_post_grace_hours: float = Field(default=6.0, ge=0)
    scheduler_tick_s: float = Field(default=30.0, gt=0)

    @field_validator("default_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        return validate_timezone(value)


class RunnerSettings(BaseSettings):
    """Where code drills are judged."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_RUNNER_", **_ENV)  # type: ignore[typeddict-item]

    backend: Literal["local", "celery"] = "local"
    redis_url: str = "redis://127.0.0.1:6379/0"


class Settings(BaseSettings):
    """All of StudyBot's configuration."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_", **_ENV)  # type: ignore[typeddict-item]

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path = Path(".")
    redis_url: str | None = None  # grade cache and token budgets; in-process when unset
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    grader: GraderSettings = Field(default_factory=GraderSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)

    @property
    def llm_configured(self) -> bool:
        """Tell whether an LLM endpoint is configured."""
        return bool(self.llm.base_url or self.llm.api_key)


def _explain(exc: ValidationError, section: type[BaseSettings]) -> str:
    first = exc.errors()[0]
    prefix = str(section.model_config.get("env_prefix", ""))
    field = ".".join(str(p) for p in first["loc"]) or "?"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{prefix}{field.upper()}: {message}"


def load_settings() -> Settings:
    """Read and validate the settings; raise SettingsError with one clear line when wrong."""
    sections: dict[str, type[BaseSettings]] = {
        "db": DatabaseSettings,
        "discord": DiscordSettings,
        "slack": SlackSettings,
        "llm": LLMSettings,
        "grader": GraderSettings,
        "schedule": ScheduleSettings,
        "runner": RunnerSettings,
    }
    built: dict[str, BaseSettings] = {}
    for name, section in sections.items():
        try:
            built[name] = section()
        except ValidationError as exc:
            raise SettingsError(f"Configuration error: {_explain(exc, section)}") from None
    try:
        return Settings(**built)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(f"Configuration error: {_explain(exc, Settings)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once."""
    return load_settings()
