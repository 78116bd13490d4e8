"""`studybot leaderboard` and `studybot stats`: the local cohort's standings from a terminal."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from bot.app import StudyBot


def leaderboard_command(
    period: Annotated[str, typer.Option("--period", help="week (default), month or all.")] = "week",
    metric: Annotated[
        str, typer.Option("--metric", help="points (default), streak, mocks or drills.")
    ] = "points",
    page: Annotated[int, typer.Option("--page", help="Page number.")] = 1,
    as_name: Annotated[
        str | None, typer.Option("--as", help="Show the board as this member (their rank too).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the board as JSON.")] = False,
) -> None:
    """Print the local cohort's leaderboard."""
    from bot.drill_cli import _local_member, _with_bot
    from bot.platforms.console import render_text
    from bot.services.standings import board_json
    from bot.standings_commands import render_board

    async def work(bot: StudyBot) -> Any:
        actor = await _local_member(bot, as_name)
        return await bot.standings.leaderboard(actor, period=period, metric=metric, page=page)

    board = asyncio.run(_with_bot(work))
    if as_json:
        typer.echo(json.dumps(board_json(board), indent=2))
    else:
        typer.echo(render_text(render_board(board)))


def stats_command(
    member: Annotated[
        str | None, typer.Option("--member", help="The member (default: you, the local user).")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Where to write the PNG.")] = Path("stats.png"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the stats as JSON.")] = False,
) -> None:
    """Draw a member's stats of the local cohort to a PNG and print the summary and its path."""
    from bot.drill_cli import _local_member, _with_bot
    from bot.services.charts import stats_png
    from bot.services.standings import stats_json

    async def work(bot: StudyBot) -> Any:
        actor = await _local_member(bot, None)
        return await bot.standings.member_stats(actor, member)

    stats = asyncio.run(_with_bot(work))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(stats_png(stats))
    if as_json:
        typer.echo(json.dumps({**stats_json(stats), "png": str(out)}, indent=2))
    else:
        typer.echo(stats.summary())
        typer.echo(f"Chart saved: {out}")
