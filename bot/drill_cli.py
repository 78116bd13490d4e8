"""`studybot submit` and `studybot drill ...`: drills from the command line, through the database.

`studybot drill` offers the runner's own commands (list, template, judge a file directly) plus
`board`, which reads the database and so belongs to the bot, not to `gpu_runner` (which never
imports the bot). `studybot submit` submits as a member of the local console cohort through the
configured runner backend, exactly like `/submit` in the console.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gpu_runner.cli import app as runner_app

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.services.context import Actor

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Code drills: list, starter files, judge a file, and each drill's leaderboard.",
)
# The runner's own drill commands, unchanged.
app.registered_commands.extend(runner_app.registered_commands)


def _fail(message: str, code: int = 1) -> typer.Exit:
    from bot.cli import fail

    return fail(message, code)


async def _local_member(bot: StudyBot, name: str | None) -> Actor:
    """Return the actor for `name` in the local console cohort, creating and joining as needed."""
    from bot.errors import InvalidInput
    from bot.platforms.console import CHANNEL, USER, WORKSPACE
    from bot.services.context import Actor

    admin = Actor("console", WORKSPACE, CHANNEL, USER, USER, is_workspace_admin=True)
    if await bot.cohorts.cohort_for(admin) is None:
        await bot.cohorts.setup(
            admin,
            name="Local study group",
            default_timezone=bot.settings.schedule.default_timezone,
            default_post_time=bot.settings.schedule.default_post_time,
        )
    who = (name or USER).strip().lstrip("@")
    if not re.fullmatch(r"[\w.-]{1,40}", who):
        raise InvalidInput(f"{name!r} is not a member name.", hint="Use letters, digits, . - _")
    if who == USER:
        return admin
    actor = Actor("console", WORKSPACE, CHANNEL, who, who)
    if await bot.cohorts.member(actor) is None:
        await bot.cohorts.join(actor)
    return actor


async def _with_bot(work: Any) -> Any:
    from bot.cli import _build, _settings
    from bot.errors import user_message_for

    bot = await _build(_settings())
    try:
        return await work(bot)
    except typer.Exit:
        raise
    except Exception as exc:
        raise _fail(user_message_for(exc)) from None
    finally:
        await bot.close()


def submit_command(
    drill: Annotated[str, typer.Argument(help="The drill's id (studybot drill list).")],
    file: Annotated[Path, typer.Argument(help="Your .py file.")],
    as_name: Annotated[
        str | None, typer.Option("--as", help="Submit as this member of the local cohort.")
    ] = None,
    device: Annotated[
        str | None, typer.Option("--device", help="Device kind: cpu (default), cuda, cuda-h100.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the stored result as JSON.")
    ] = False,
) -> None:
    """Submit a file for a drill through the configured runner, wait, print the stored result."""
    from bot.drill_commands import read_submitted_file
    from bot.platforms.console import render_text
    from bot.services.submissions import outcome_json, render_outcome

    show_progress = sys.stderr.isatty()

    async def work(bot: StudyBot) -> Any:
        actor = await _local_member(bot, as_name)
        data = read_submitted_file(actor, str(file))
        service = bot.submissions
        submission = await service.submit(actor, drill, data, device_kind=device)
        assert submission.id is not None

        def on_status(progress: Any) -> None:
            if show_progress:  # one line, rewritten in place
                sys.stderr.write("\r\033[K" + progress.describe())
                sys.stderr.flush()

        try:
            return await service.wait(submission.id, on_status=on_status)
        finally:
            if show_progress:
                sys.stderr.write("\r\033[K")

    outcome = asyncio.run(_with_bot(work))
    if as_json:
        typer.echo(json.dumps(outcome_json(outcome), indent=2))
    else:
        for message in render_outcome(outcome).messages:
            typer.echo(render_text(message))
    if outcome.submission.status != "done":
        raise typer.Exit(1)


@app.command("board")
def board_command(
    drill: Annotated[str, typer.Argument(help="The drill's id.")],
    device: Annotated[
        str | None, typer.Option("--device", help="Device kind: cpu (default), cuda, cuda-h100.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the board as JSON.")] = False,
) -> None:
    """Print a drill's leaderboard in the local cohort: best passing run per member."""
    from bot.platforms.console import render_text
    from bot.services.submissions import board_json, render_board

    async def work(bot: StudyBot) -> Any:
        actor = await _local_member(bot, None)
        return await bot.submissions.board(actor, drill, device)

    board = asyncio.run(_with_bot(work))
    if as_json:
        typer.echo(json.dumps(board_json(board), indent=2))
    else:
        typer.echo(render_text(render_board(board)))


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A problem folder (task.yml, reference.py, ...).")],
    as_name: Annotated[
        str | None,
        typer.Option("--as", help="Import as this member of the local cohort (admins only)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the imported drill as JSON.")
    ] = False,
) -> None:
    """Import a GPU MODE style problem folder as a drill (admins only; the operator is one)."""

    async def work(bot: StudyBot) -> Any:
        actor = await _local_member(bot, as_name)
        return await bot.submissions.import_problem(actor, str(path))

    summary = asyncio.run(_with_bot(work))
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(
            f"imported {summary['id']} ({summary['title']}): {summary['tests']} tests, "
            f"{summary['benchmarks']} benchmarks, on {summary['device']}"
        )
