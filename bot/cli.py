"""`studybot`: every capability from the command line, scriptable with --json.

Heavy imports (torch, the chat SDKs, the database drivers) happen inside the commands, so
`studybot --help` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from bot import __version__
from bot.logs import MaskingFormatter

__all__ = ["MaskingFormatter", "app", "main"]

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.clock import Clock
    from bot.settings import Settings

# Command groups that live in packages beside bot/ (which never import it), loaded on first use
# so `studybot --help` does not import the curriculum or the sandbox: name -> (module, attribute,
# one-line help).
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "content": (
        "content.cli",
        "app",
        "The curriculum as data: import seed text, check and count the YAML library.",
    ),
    "question": ("content.cli", "question_command", "Show a question with its rubric."),
    "drill": (
        "bot.drill_cli",
        "app",
        "Code drills: list, starter files, judge a file, each drill's leaderboard.",
    ),
    "submit": (
        "bot.drill_cli",
        "submit_command",
        "Submit a drill file through the configured runner and print the stored result.",
    ),
    "leaderboard": (
        "bot.standings_cli",
        "leaderboard_command",
        "The local cohort's leaderboard: week, month or all; points, streak, mocks, drills.",
    ),
    "stats": (
        "bot.standings_cli",
        "stats_command",
        "A member's stats drawn to a PNG, with a text summary.",
    ),
}


def _load_lazy(name: str) -> Any:
    """Import a lazily mounted command and return it as a click command."""
    import importlib

    from typer.main import get_command

    module, attr, _ = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module), attr)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
        single.command(name)(target)
        target = single
    return get_command(target)


class LazyCommand(TyperCommand):
    """A command listed in --help by its one line, imported only when it runs."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any
    ) -> Any:
        """Load the real command and let it parse the arguments."""
        real = _load_lazy(self.name or "")
        return real.make_context(info_name, args, parent=parent, **extra)


class LazyGroup(TyperGroup):
    """The top-level group: its own commands plus the lazily mounted ones."""

    def list_commands(self, ctx: Any) -> list[str]:
        """List every command, lazy ones included."""
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """Return a command; a lazy one as a stand-in that loads on use."""
        found = super().get_command(ctx, cmd_name)
        if found is None and cmd_name in LAZY_COMMANDS:
            help_text = LAZY_COMMANDS[cmd_name][2]
            return LazyCommand(cmd_name, help=help_text, short_help=help_text)
        return found


app = typer.Typer(
    name="studybot",
    help="StudyBot: a Discord and Slack study-group bot for a 133-day ML-systems curriculum.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=LazyGroup,
)
db_app = typer.Typer(help="Database: apply and inspect migrations.", no_args_is_help=True)
mock_app = typer.Typer(
    help="Mock interviews on the 45-minute guide's pacing.", no_args_is_help=True
)
discord_app = typer.Typer(help="Discord: register the slash commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(mock_app, name="mock")
app.add_typer(discord_app, name="discord")


class Render(StrEnum):
    """How `studybot day` renders a day."""

    text = "text"
    discord = "discord"
    slack = "slack"


_LOADED_SETTINGS: list[Settings] = []


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line to stderr, secrets masked, and return the exit to raise."""
    from bot.settings import mask_secrets

    settings = _LOADED_SETTINGS[0] if _LOADED_SETTINGS else None
    line = " ".join(mask_secrets(message, settings).split())
    typer.echo(f"error: {line}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    from bot.settings import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None
    _LOADED_SETTINGS[:] = [settings]
    return settings


class OneLineReconnects(logging.Filter):
    """Turn the chat SDKs' reconnect tracebacks into one line each, with the delay.

    Socket Mode logs a full traceback on every failed connect and discord.py on every
    reconnect; an operator needs the reason and when the next try is, not the stack.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite a reconnect record in place; drop the SDKs' notes that need no action."""
        message = record.getMessage()
        if message.endswith(_NO_ACTION_NOTES):
            return False
        reason = ""
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            reason = f"{type(exc).__name__}: {exc}".strip()
        if message.startswith("Failed to connect (error:"):
            # slack_sdk waits its ping interval (the handler's default: 10 s) before retrying.
            detail = message.removeprefix("Failed to connect (error: ").split("); Retrying")[0]
            record.msg = "Slack Socket Mode: cannot connect (%s); retrying in %ss"
            record.args = (detail, _SOCKET_MODE_RETRY_S)
        elif message.startswith("Attempting a reconnect in"):
            record.msg = "Discord: connection lost (%s); reconnecting in %s"
            record.args = (reason or "closed", message.removeprefix("Attempting a reconnect in "))
        else:
            return True
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


_SOCKET_MODE_RETRY_S = 10


# Start-up notes of the chat SDKs that ask nothing of an operator (StudyBot uses no voice).
_NO_ACTION_NOTES = (
    "voice will NOT be supported",
    "As you gave `client` as well, `token` will be unused.",
)


def _configure_logging(settings: Settings, *, log_file: Path | None = None) -> None:
    """Log to stderr, or to a file (the console keeps the terminal for the chat); see bot.logs."""
    from bot.logs import configure_logging

    configure_logging(settings, log_file=log_file, filters=[OneLineReconnects()])


def _version(value: bool) -> None:
    if value:
        typer.echo(f"studybot {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """StudyBot command line."""


def _parse_now(now: str | None) -> datetime | None:
    if not now:
        return None
    try:
        parsed = datetime.fromisoformat(now)
    except ValueError:
        raise fail(f"--now {now!r} is not an ISO date-time such as 2026-12-01T07:59") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# The fastest demo clock: the scheduler sweeps a demo clock once a real second, so one sweep
# must span well under the missed-post grace (6 hours), and a start of a second or two too.
MAX_SPEED = 3600.0


def _clock(now: datetime | None, speed: float) -> Clock:
    from bot.clock import ScaledClock, SystemClock

    if not 0 < speed <= MAX_SPEED:
        raise fail(
            f"--speed must be above 0 and at most {MAX_SPEED:.0f} (an hour a second): faster, "
            "the bot could not look often enough and would report days as missed",
            2,
        )
    if now is None and speed == 1:
        return SystemClock()
    return ScaledClock(now or datetime.now(UTC), speed)


async def _build(settings: Settings, clock: Clock | None = None) -> StudyBot:
    from bot.app import build_app
    from bot.errors import StudyBotError

    try:
        return await build_app(settings, clock=clock)
    except StudyBotError as exc:
        raise fail(str(exc), 2) from None


async def _console(settings: Settings, clock: Clock, *, log_note: str | None = None) -> None:
    from bot.clock import SystemClock
    from bot.metrics import TrackedScheduler
    from bot.platforms.console import ConsoleFace
    from bot.scheduling import DailyScheduler

    bot = await _build(settings, clock)
    bot.warm_graders()
    face = ConsoleFace(bot, log_note=log_note)
    # Cron jobs fire on real time; a demo clock (--now/--speed) is followed by a fast sweep.
    tick = settings.schedule.scheduler_tick_s if isinstance(clock, SystemClock) else 1.0
    scheduler = TrackedScheduler(DailyScheduler(bot, tick_s=tick))
    from bot.platforms.web import serving_dashboard

    try:
        face.say(face.greeting())  # before the first pass, which may post the day at once
        await face.ensure_cohort()
        await scheduler.start()
        async with bot.metrics_endpoint(scheduler), serving_dashboard(bot):
            await face.run(greet=False)
    finally:
        await scheduler.stop()
        await _finish_running_jobs()
        await bot.close()


async def _finish_running_jobs(grace_s: float = 5.0) -> None:
    """Let a post or a grading in flight finish (or cancel it) before the database closes.

    Closing the engine under a running publish pass would leave that task waiting forever,
    and the process with it; a cancelled pass is resumed from its claim on the next start.
    """
    current = asyncio.current_task()
    pending = {task for task in asyncio.all_tasks() if task is not current}
    if not pending:
        return
    _, still = await asyncio.wait(pending, timeout=grace_s / 2)
    for task in still:
        task.cancel()
    if still:
        await asyncio.wait(still, timeout=grace_s / 2)


def _run_console(settings: Settings, clock: Clock, *, verbose: bool) -> None:
    """Run the console face; logs go to a file unless --verbose; Ctrl-C leaves at once."""
    log_file = None if verbose else (settings.data_dir / "studybot.log").resolve()
    _configure_logging(settings, log_file=log_file)
    note = f"Logs go to {log_file} (--verbose shows them here)." if log_file is not None else None
    try:
        asyncio.run(_console(settings, clock, log_note=note))
    except KeyboardInterrupt:
        typer.echo("\nBye.")


NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Start the clock at this ISO time (demo), e.g. 2026-12-01T07:59."),
]
SpeedOption = Annotated[
    float, typer.Option("--speed", help="Run the clock this many times faster (demo).")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", help="Print the logs in the terminal instead of a file.")
]


def _stdin_can_feed_console() -> bool:
    """Tell whether stdin is a terminal, a pipe or a file (not /dev/null or closed)."""
    import os
    import stat

    try:
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return sys.stdin.isatty() or stat.S_ISFIFO(mode) or stat.S_ISREG(mode)


def describe_startup_failure(exc: BaseException, settings: Settings) -> str | None:
    """Return one line naming the setting and the fix for a chat face that failed to start."""
    from bot.errors import StudyBotError

    name = type(exc).__name__
    module = type(exc).__module__
    if isinstance(exc, StudyBotError):
        return str(exc)
    if module.startswith("discord") and name == "LoginFailure":
        return (
            "DISCORD_TOKEN was rejected by Discord: copy the bot token again (Developer Portal "
            "→ your application → Bot → Reset Token)."
        )
    if module.startswith("discord") and name == "PrivilegedIntentsRequired":
        return (
            "Discord refused the Message Content intent: enable it (Developer Portal → Bot → "
            "Privileged Gateway Intents), see README 'Discord set-up'."
        )
    if module.startswith("slack_sdk") and name == "SlackApiError":
        error = str(getattr(exc, "response", {}).get("error", "") or exc)
        which = "SLACK_APP_TOKEN" if "connections" in str(exc) else "SLACK_BOT_TOKEN"
        return (
            f"{which} was rejected by Slack ({error}): copy it again from the Slack app's "
            "settings (see README 'Slack set-up')."
        )
    host = getattr(exc, "host", None) or ""
    if isinstance(exc, OSError) or module.startswith("aiohttp"):
        enabled = [
            name
            for name, value in (
                ("DISCORD_TOKEN", settings.discord.token),
                ("SLACK_BOT_TOKEN", settings.slack.bot_token),
            )
            if value
        ]
        if "discord" in host:
            setting = "DISCORD_TOKEN"
        elif "slack" in host:
            setting = "SLACK_BOT_TOKEN"
        elif len(enabled) == 1:
            setting = enabled[0]  # an API stand-in's address: the one face that is on
        else:
            return None
        host = host or "the chat platform"
        reason = getattr(exc, "os_error", None) or exc
        reason_text = getattr(reason, "strerror", None) or str(reason)
        return (
            f"Cannot reach {host} ({reason_text}) to start the face {setting} enables: check "
            f"the network or proxy, or unset {setting}."
        )
    return None


@app.command()
def run(
    now: NowOption = None,
    speed: SpeedOption = 1.0,
    verbose: VerboseOption = False,
    require_chat: Annotated[
        bool,
        typer.Option(
            "--require-chat", help="Refuse to fall back to the console (containers, services)."
        ),
    ] = False,
) -> None:
    """Start the bot: Discord and/or Slack when their tokens are set, else the console."""
    from bot.settings import startup_problem

    settings = _settings()
    clock = _clock(_parse_now(now), speed)
    if settings.discord.token or settings.slack.bot_token or settings.slack.app_token:
        problem = startup_problem(settings)
        if problem:
            raise fail(problem, 2)
        _configure_logging(settings)
        from bot.serve import run_platforms

        try:
            asyncio.run(run_platforms(settings, clock))
        except KeyboardInterrupt:
            return
        except SystemExit as exc:
            if isinstance(exc.code, str):
                raise fail(exc.code.removeprefix("error: "), 2) from None
            raise
        except Exception as exc:
            line = describe_startup_failure(exc, settings)
            if line is None:
                raise
            raise fail(line, 2) from None
        return
    if require_chat:
        raise fail(
            "No DISCORD_TOKEN or SLACK_BOT_TOKEN is set: put one in .env (see README "
            "'Discord set-up' or 'Slack set-up').",
            2,
        )
    if not _stdin_can_feed_console():
        raise fail(
            "No DISCORD_TOKEN or SLACK_BOT_TOKEN is set and there is no terminal for the local "
            "console: set a platform token (see README), or run `studybot console` in a terminal.",
            2,
        )
    typer.echo("No DISCORD_TOKEN or SLACK_BOT_TOKEN set: starting the local console.", err=True)
    _run_console(settings, clock, verbose=verbose)


@app.command()
def console(
    now: NowOption = None, speed: SpeedOption = 1.0, verbose: VerboseOption = False
) -> None:
    """Open the local chat face on the configured database (no tokens needed)."""
    settings = _settings()
    _run_console(settings, _clock(_parse_now(now), speed), verbose=verbose)


@app.command()
def demo(
    verbose: VerboseOption = False,
    lead: Annotated[
        float, typer.Option("--lead", help="Seconds until the day's post arrives.", min=1)
    ] = 10.0,
) -> None:
    """Open the console on a throwaway database; day 1 is posted within seconds."""
    import shutil
    import tempfile
    from zoneinfo import ZoneInfo

    from bot.clock import ScaledClock
    from bot.store.migrate import upgrade

    settings = _settings()
    workdir = Path(tempfile.mkdtemp(prefix="studybot-demo-"))
    url = f"sqlite+aiosqlite:///{workdir / 'demo.db'}"
    try:
        upgrade(url)
        demo_settings = settings.model_copy(
            update={
                "db": settings.db.model_copy(update={"url": url, "echo": False}),
                "data_dir": workdir,
                "redis_url": None,  # throwaway: nothing shared with a real deployment
            }
        )
        zone = ZoneInfo(settings.schedule.default_timezone)
        today = datetime.now(zone).date()
        post_at = datetime.combine(today, settings.schedule.default_post_time, tzinfo=zone)
        # The clock starts just before today's post time, so the local cohort created now has
        # day 1 today and its post falls due `lead` seconds in, whatever ran before.
        clock = ScaledClock(post_at - timedelta(seconds=lead), 1.0)
        typer.echo(
            f"Demo on a throwaway database ({workdir}); day 1 is posted in about "
            f"{lead:.0f} seconds.",
            err=True,
        )
        _run_console(demo_settings, clock, verbose=verbose)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@app.command()
def web(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (STUDYBOT_WEB_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="Port (STUDYBOT_WEB_PORT, else 8080).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Processes sharing the port (STUDYBOT_WEB_WORKERS)."),
    ] = None,
) -> None:
    """Serve the read-only web dashboard (links come from /dashboard in chat)."""
    settings = _settings()
    _configure_logging(settings)
    from bot.platforms.web import run_dashboard

    typer.echo(
        f"Dashboard on http://{host or settings.web.host}:{port or settings.web.listen_port}; "
        f"links point at {settings.web.public_base_url}. Ctrl-C stops it.",
        err=True,
    )
    try:
        run_dashboard(
            lambda: _build(settings),
            host=host or settings.web.host,
            port=port or settings.web.listen_port,
            workers=workers or settings.web.workers,
        )
    except KeyboardInterrupt:
        return


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations to the configured database."""
    from bot.settings import redact_url
    from bot.store.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.db.url, revision=revision)
    except Exception as exc:
        raise fail(
            f"migration failed on {redact_url(settings.db.url)}: {exc}. Check STUDYBOT_DB_URL.",
            2,
        ) from None
    typer.echo(f"Database at {revision}: {redact_url(settings.db.url)}")


@db_app.command("current")
def db_current() -> None:
    """Show the database's revision and whether it is up to date."""
    from bot.store.engine import make_engine
    from bot.store.migrate import current_revision, head_revision

    settings = _settings()

    async def _read() -> str | None:
        engine = make_engine(settings.db.url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    current, head = asyncio.run(_read()), head_revision()
    typer.echo(
        f"current: {current or 'none'}  head: {head}  "
        f"{'up to date' if current == head else 'run: studybot db upgrade'}"
    )


@discord_app.command("sync")
def discord_sync(
    guild: Annotated[
        int | None, typer.Option("--guild", help="Sync to one guild (instant) instead of globally.")
    ] = None,
) -> None:
    """Register (sync) the slash commands with Discord; run once after install or upgrade."""
    settings = _settings()
    if not settings.discord.token:
        raise fail("DISCORD_TOKEN is not set; see README 'Discord set-up'", 2)
    from bot.platforms.discord_app import sync_commands

    names = asyncio.run(sync_commands(settings, guild))
    where = f"guild {guild}" if guild else "globally (may take up to an hour to appear)"
    typer.echo(f"Synced {len(names)} command(s) {where}: {', '.join(names)}")


@app.command()
def day(
    n: Annotated[int, typer.Argument(help="Day number, 1-133.")],
    render: Annotated[Render, typer.Option("--render", help="Rendering to show.")] = Render.text,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a day as it will be posted."""
    from bot.errors import user_message_for
    from bot.platforms.console import render_text
    from bot.services.daily import compose_day
    from content import load_library

    try:
        library = load_library()
        if not 1 <= n <= library.days_total:
            raise fail(f"day {n} is outside the curriculum (1-{library.days_total})")
        messages = compose_day(library.day(n), lambda qid: bool(library.rubric_for(qid)))
    except typer.Exit:
        raise
    except Exception as exc:
        raise fail(user_message_for(exc)) from None
    if render is Render.text:
        if as_json:
            typer.echo(
                json.dumps(
                    {"day": n, "text": [render_text(m) for m in messages]},
                    ensure_ascii=False,
                    indent=2,
                )
            )
        else:
            typer.echo("\n\n".join(render_text(m) for m in messages))
        return
    payloads: Any
    if render is Render.discord:
        from bot.platforms.discord_render import render_post as render_discord

        payloads = render_discord(messages)
    else:
        from bot.platforms.slack_render import render_post as render_slack

        payloads = render_slack(messages)
    typer.echo(json.dumps(payloads, ensure_ascii=False, indent=2))


@app.command()
def grade(
    question: Annotated[
        str | None, typer.Option("--question", help="Question id, e.g. E3-082.")
    ] = None,
    answer_file: Annotated[
        str | None, typer.Option("--answer-file", help="File with the answer ('-' = stdin).")
    ] = None,
    answers_file: Annotated[
        str | None,
        typer.Option(
            "--answers-file",
            help='JSONL file of {"question": ..., "answer": ...} lines to grade in one run.',
        ),
    ] = None,
    grader: Annotated[str, typer.Option("--grader", help="offline, llm or cascade.")] = "offline",
    as_json: Annotated[bool, typer.Option("--json", help="Print the grade as JSON.")] = False,
) -> None:
    """Grade one written answer, or a file of many, against the questions' rubrics.

    It uses neither the grade cache nor any cohort's daily LLM token budget.
    """
    from bot.grading_cli import grade_command

    grade_command(question, answer_file, grader, as_json, answers_file)


@mock_app.command("demo")
def mock_demo(
    speed: Annotated[float, typer.Option("--speed", help="Clock speed-up.")] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
    pause_at: Annotated[float | None, typer.Option("--pause-at", help="Pause at minute.")] = None,
    resume_at: Annotated[float | None, typer.Option("--resume-at", help="Resume at.")] = None,
    restart_at: Annotated[
        float | None, typer.Option("--restart-at", help="Kill the bot process at this minute.")
    ] = None,
    solo: Annotated[
        bool, typer.Option("--solo", help="StudyBot interviews a simulated candidate.")
    ] = False,
) -> None:
    """Run a whole mock interview on a fast clock and print its timeline (or solo transcript)."""
    from bot.errors import StudyBotError
    from bot.mock_demo import demo_command, solo_demo_command

    try:
        if solo:
            solo_demo_command(as_json)
            return
        demo_command(speed, pause_at, resume_at, restart_at, as_json)
    except StudyBotError as exc:
        raise fail(str(exc), 2) from None


@app.command()
def worker(
    queue: Annotated[
        list[str] | None,
        typer.Option("--queue", help="Device kind to serve: cpu, cuda or cuda-<model>; repeat."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", min=1, help="Jobs at once.")] = 1,
    redis_url: Annotated[
        str | None, typer.Option("--redis-url", help="Broker (default STUDYBOT_RUNNER_REDIS_URL).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="This worker's name.")] = None,
) -> None:
    """Start a Celery runner worker that judges queued code drills on this machine's device."""
    import os

    args = ["--concurrency", str(concurrency)]
    for kind in queue or ["cpu"]:
        args += ["--queue", kind]
    if redis_url:
        args += ["--redis-url", redis_url]
    if name:
        args += ["--name", name]
    # A fresh interpreter: a runner node loads nothing of the bot, no chat or database client.
    os.execv(sys.executable, [sys.executable, "-m", "gpu_runner.worker", *args])


# --- operations: doctor ------------------------------------------------------------------------


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
) -> None:
    """Check every configured part; one line per check, with the fix for each failure."""
    from bot.doctor import failed, render, run_checks, settings_failure
    from bot.settings import SettingsError, get_settings

    settings: Settings | None
    try:
        settings = get_settings()
    except SettingsError as exc:
        settings, checks = None, settings_failure(str(exc))
    else:
        _LOADED_SETTINGS[:] = [settings]
        logging.disable(logging.CRITICAL)  # the report is the output; SDK chatter is not
        checks = asyncio.run(run_checks(settings))
    typer.echo(render(checks, as_json=as_json, settings=settings))
    if failed(checks):
        raise typer.Exit(1)


# --- operations: backup and restore ------------------------------------------------------------


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(help="Where to write the backup.")],
) -> None:
    """Back up the database to FILE (SQLite online backup, or pg_dump's custom format)."""
    from bot.backup import backup as take_backup
    from bot.errors import StudyBotError
    from bot.settings import redact_url

    settings = _settings()
    try:
        report = take_backup(settings.db.url, file)
    except StudyBotError as exc:
        raise fail(str(exc)) from None
    typer.echo(
        f"Backed up {redact_url(settings.db.url)} to {report.file} "
        f"({report.backend}, {report.size_bytes} bytes)"
    )


@app.command()
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `studybot backup`.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the database with a backup (stop every bot process first)."""
    from bot.backup import restore as restore_backup
    from bot.errors import StudyBotError
    from bot.settings import redact_url

    settings = _settings()
    where = redact_url(settings.db.url)
    if not yes and not typer.confirm(f"Replace everything in {where} with {file}?"):
        raise fail("nothing restored")
    try:
        report = restore_backup(settings.db.url, file)
    except StudyBotError as exc:
        raise fail(str(exc)) from None
    typer.echo(f"Restored {where} from {report.file} ({report.backend}). Run: studybot doctor")


def main() -> None:
    """Run the command line; an unexpected error's traceback is printed with secrets masked."""
    try:
        app()
    except Exception:
        import traceback

        from bot.settings import mask_secrets

        settings = _LOADED_SETTINGS[0] if _LOADED_SETTINGS else None
        sys.stderr.write(mask_secrets(traceback.format_exc(), settings))
        sys.exit(1)
