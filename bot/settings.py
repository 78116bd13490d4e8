"""Typed settings, one section per concern, read once at start and validated (fail fast)."""

from __future__ import annotations

import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.timezones import validate_timezone
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


_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][\w+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?P<at>@)")


def redact_url(url: str) -> str:
    """Return the URL with its password replaced by ***: postgresql://bot:***@host/db."""
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}***{m['at']}", url)


def _url_password(url: str | None) -> str | None:
    match = _URL_PASSWORD.search(url or "")
    return match["pw"] if match else None


def mask_secrets(text: str, settings: Settings | None = None) -> str:
    """Mask every URL password and every configured token or key in a text meant for output."""
    text = redact_url(text)
    if settings is not None:
        for secret in sorted(settings.secrets(), key=len, reverse=True):
            text = text.replace(secret, "***")
    return text


def _check_redis_url(value: str | None, name: str) -> str | None:
    value = (value or "").strip() or None
    if value and not value.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"{name} must be a redis:// URL such as redis://127.0.0.1:6379/0, got "
            f"{redact_url(value)!r}"
        )
    return value


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
                f"unsupported database URL {redact_url(value)!r}; use "
                "sqlite+aiosqlite:///./studybot.db "
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
    # a claim on once-only work (a day's post) lasts this long past its last step
    claim_lease_s: float = Field(default=120.0, gt=0)
    # each bot process beats this often; three missed beats and its claims are taken over
    heartbeat_interval_s: float = Field(default=5.0, gt=0)

    @field_validator("default_post_time", mode="before")
    @classmethod
    def _check_post_time(cls, value: object) -> object:
        if isinstance(value, time):
            return value
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
        if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"{str(value)!r} is not a time of day; use HH:MM, e.g. 08:00")
        return time(int(match.group(1)), int(match.group(2)))

    @field_validator("default_timezone")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        return validate_timezone(value)


class RunnerSettings(BaseSettings):
    """Where code drills are judged."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_RUNNER_", **_ENV)  # type: ignore[typeddict-item]

    backend: Literal["local", "celery"] = "local"
    # The Celery broker of the runner workers; STUDYBOT_REDIS_URL when unset.
    redis_url: str | None = None
    # Submissions a member may make per hour (each one takes a runner for seconds).
    hourly_cap: int = Field(default=20, ge=1)
    # Times a submission whose job vanished is handed to the runner before the member is told.
    max_dispatches: int = Field(default=3, ge=1)
    # Time submissions against the reference (off: correctness only, nothing ranked).
    timing: bool = True

    @field_validator("redis_url")
    @classmethod
    def _check_broker(cls, value: str | None) -> str | None:
        return _check_redis_url(value, "STUDYBOT_RUNNER_REDIS_URL")


class MockSettings(BaseSettings):
    """Paired mock interviews: how long the queue, a match and a quiet room may wait."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_MOCK_", **_ENV)  # type: ignore[typeddict-item]

    no_show_minutes: float = Field(default=10.0, gt=0)
    idle_close_minutes: float = Field(default=120.0, gt=0)
    queue_wait_minutes: float = Field(default=15.0, gt=0)
    timer_tick_s: float = Field(default=1.0, gt=0)
    # Solo mocks (StudyBot interviews): the LLM engine when an LLM is configured, within a
    # token cap per mock and a daily budget per cohort of their own (never grading's).
    solo_llm: bool = True
    solo_token_cap: int = Field(default=30_000, ge=0)
    solo_daily_tokens: int = Field(default=300_000, ge=0)


class WebSettings(BaseSettings):
    """The read-only web dashboard: where it listens, the address links use, how links sign."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_WEB_", **_ENV)  # type: ignore[typeddict-item]

    # `studybot run` serves the dashboard only when this is set; `studybot web` uses 8080 unset.
    port: int | None = Field(default=None, ge=1, le=65535)
    host: str = "127.0.0.1"
    workers: int = Field(default=1, ge=1, le=64)  # `studybot web` processes sharing the port
    # The address links point at (what members open); http://127.0.0.1:<port> when unset.
    base_url: str | None = None
    # Signs links and session cookies; generated once and kept in the database when unset.
    secret: str | None = None
    link_ttl_s: float = Field(default=900.0, gt=0)  # how long a /dashboard link opens
    link_single_use: bool = True  # a link opens one session, never a second
    session_ttl_s: float = Field(default=12 * 3600.0, gt=0)  # how long that session lasts

    @field_validator("secret")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        value = _reject_placeholder(value, "STUDYBOT_WEB_SECRET")
        if value and len(value) < 16:
            raise ValueError("STUDYBOT_WEB_SECRET must be at least 16 characters; or unset it")
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        value = (value or "").strip().rstrip("/") or None
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"STUDYBOT_WEB_BASE_URL must be an http(s) URL, got {value!r}")
        return value

    @property
    def listen_port(self) -> int:
        """Return the port to serve on: the setting, else 8080."""
        return self.port or 8080

    @property
    def public_base_url(self) -> str:
        """Return the address links point at."""
        return self.base_url or f"http://127.0.0.1:{self.listen_port}"


class Settings(BaseSettings):
    """All of StudyBot's configuration."""

    model_config = SettingsConfigDict(env_prefix="STUDYBOT_", **_ENV)  # type: ignore[typeddict-item]

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    data_dir: Path = Path(".")
    # The one Redis of a deployment: grade cache, token budgets, request de-duplication (and the
    # runner's broker unless STUDYBOT_RUNNER_REDIS_URL names another). In-process when unset.
    redis_url: str | None = None
    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    grader: GraderSettings = Field(default_factory=GraderSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    runner: RunnerSettings = Field(default_factory=RunnerSettings)
    mock: MockSettings = Field(default_factory=MockSettings)
    web: WebSettings = Field(default_factory=WebSettings)

    # Operations: /healthz and /metrics on this port when set (off by default).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, value: str | None) -> str | None:
        return _check_redis_url(value, "STUDYBOT_REDIS_URL")

    @property
    def runner_broker_url(self) -> str | None:
        """Return the runner workers' broker: its own setting, else the shared Redis."""
        return self.runner.redis_url or self.redis_url

    def secrets(self) -> list[str]:
        """Return every secret value set, so output can mask them."""
        values = [
            self.discord.token,
            self.slack.bot_token,
            self.slack.app_token,
            self.slack.signing_secret,
            self.llm.api_key,
            self.web.secret,
        ]
        values += [_url_password(u) for u in (self.db.url, self.redis_url, self.runner.redis_url)]
        return [v for v in values if v and len(v) >= 4]

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
        "mock": MockSettings,
        "web": WebSettings,
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


class StartupError(StudyBotError):
    """The bot cannot start as configured; the message names the setting and the fix."""


def startup_problem(settings: Settings) -> str | None:
    """Return the one-line reason the configured chat faces cannot start, or None."""
    slack = settings.slack
    if slack.app_token and not slack.bot_token:
        return (
            "SLACK_APP_TOKEN is set without SLACK_BOT_TOKEN: set the bot token (xoxb-…) from the "
            "Slack app's OAuth & Permissions page, or unset SLACK_APP_TOKEN."
        )
    if slack.bot_token and not slack.app_token and not slack.signing_secret:
        return (
            "SLACK_SIGNING_SECRET is not set: Slack HTTP mode needs it (Slack app → Basic "
            "Information → Signing Secret), or set SLACK_APP_TOKEN (xapp-…) for Socket Mode."
        )
    return None
