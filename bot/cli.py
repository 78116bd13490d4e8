"""`studybot`: every capability from the command line, scriptable with --json.

Heavy imports (torch, the chat SDKs, the database drivers) happen inside the commands, so
`studybot --help` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from bot import __version__

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.clock import Clock
    from bot.settings import Settings

app = typer.Typer(
    name="studybot",
    help="StudyBot: a Discord and Slack study-group bot for a 133-day ML-systems curriculum.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
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


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line to stderr and return the exit to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _settings() -> Settings:
    from bot.settings import SettingsError, get_settings

    try:
        return get_settings()
    except SettingsError as exc:
        raise fail(str(exc), 2) from None


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


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


def _clock(now: datetime | None, speed: float) -> Clock:
    from bot.clock import ScaledClock, SystemClock

    if speed <= 0:
        raise fail("--speed must be positive")
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


async def _console(settings: Settings, clock: Clock) -> None:
    from bot.clock import SystemClock
    from bot.platforms.console import ConsoleFace
    from bot.scheduling import DailyScheduler

    bot = await _build(settings, clock)
    bot.warm_graders()
    face = ConsoleFace(bot)
    # Cron jobs fire on real time; a demo clock (--now/--speed) is followed by a fast sweep.
    tick = settings.schedule.scheduler_tick_s if isinstance(clock, SystemClock) else 1.0
    scheduler = DailyScheduler(bot, tick_s=tick)
    try:
        await face.ensure_cohort()
        await scheduler.start()
        await face.run()
    finally:
        await scheduler.stop()
        await bot.close()


NowOption = Annotated[
    str | None,
    typer.Option("--now", help="Start the clock at this ISO time (demo), e.g. 2026-12-01T07:59."),
]
SpeedOption = Annotated[
    float, typer.Option("--speed", help="Run the clock this many times faster (demo).")
]


@app.command()
def run(now: NowOption = None, speed: SpeedOption = 1.0) -> None:
    """Start the bot: Discord and/or Slack when their tokens are set, else the console."""
    settings = _settings()
    _configure_logging(settings)
    clock = _clock(_parse_now(now), speed)
    if settings.discord.token or settings.slack.bot_token:
        from bot.platforms.runner import run_platforms

        asyncio.run(run_platforms(settings, clock))
        return
    typer.echo("No DISCORD_TOKEN or SLACK_BOT_TOKEN set: starting the local console.", err=True)
    asyncio.run(_console(settings, clock))


@app.command()
def console(now: NowOption = None, speed: SpeedOption = 1.0) -> None:
    """Open the local chat face on the configured database (no tokens needed)."""
    settings = _settings()
    logging.basicConfig(level="WARNING", stream=sys.stderr)
    asyncio.run(_console(settings, _clock(_parse_now(now), speed)))


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
) -> None:
    """Apply migrations to the configured database."""
    from bot.store.migrate import upgrade

    settings = _settings()
    try:
        upgrade(settings.db.url, revision=revision)
    except Exception as exc:
        raise fail(f"migration failed on {settings.db.url}: {exc}", 2) from None
    typer.echo(f"Database at {revision}: {settings.db.url}")


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


def _mount_optional(module: str, attr: str, name: str) -> None:
    """Mount a package's command group; packages stay free of any import of bot/."""
    import importlib

    try:
        sub = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError):
        return
    if isinstance(sub, typer.Typer):
        app.add_typer(sub, name=name)
    else:
        app.command(name)(sub)


_mount_optional("content.cli", "app", "content")
_mount_optional("content.cli", "question_command", "question")
_mount_optional("gpu_runner.cli", "app", "drill")


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
) -> None:
    """Run a whole mock interview on a fast clock and print its announcement timeline."""
    raise fail("mock rooms are not available in this version yet", 2)


@app.command()
def worker() -> None:
    """Start a runner worker that judges queued code drills."""
    raise fail(
        "the queued runner worker is not available in this version yet; "
        "judge files directly with: studybot drill judge ID FILE",
        2,
    )


def main() -> None:
    """Run the command line."""
    app()
