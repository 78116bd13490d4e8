"""The standings commands: /leaderboard, /stats, /me remind, /review.

Registered in the one catalogue (`bot.commands`) by importing this module there.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from bot.commands import Option, command
from bot.errors import InvalidInput
from bot.messages import Button, Image, Message, Reply
from bot.services.charts import stats_png
from bot.services.context import Actor
from bot.services.standings import Board, BoardRow, MemberStats

if TYPE_CHECKING:
    from bot.app import StudyBot

_UNITS = {"points": "points", "streak": "day(s)", "mocks": "mock(s)", "drills": "drill(s)"}
_PERIOD_TITLES = {"week": "this week", "month": "this month", "all": "all time"}


def board_command(board: Board, page: int) -> str:
    """Return the command line that shows another page of the same board."""
    return f"/leaderboard {board.period} {board.metric} page={page}"


def _line(row: BoardRow, unit: str, *, me: bool = False) -> str:
    mark = " ◀ you" if me else ""
    return f"{row.rank}. {row.name} — {row.value} {unit}{mark}"


def render_board(board: Board) -> Message:
    """Render one page of a board, the caller's line, and buttons to the other pages."""
    unit = _UNITS[board.metric]
    me_id = board.me.member_id if board.me else None
    lines = [_line(r, unit, me=r.member_id == me_id) for r in board.rows]
    if not lines:
        lines = ["Nobody is on this board yet."]
    if board.me is not None and not board.me_on_page:
        lines += ["…", _line(board.me, unit, me=True)]
    buttons = []
    if board.page > 1:
        buttons.append(Button("◀ Previous", "command", board_command(board, board.page - 1)))
    if board.page < board.pages:
        buttons.append(Button("Next ▶", "command", board_command(board, board.page + 1)))
    if board.metric == "drills":  # the drills passed; each drill's own timed board is apart
        lines += ["", "Each drill's timed board: /drill board <drill> (see /drill list)."]
    title = f"{board.cohort_name}: {board.metric} leaderboard, {_PERIOD_TITLES[board.period]}"
    return Message(
        header=title,
        text="\n".join(lines),
        footer=f"Page {board.page} of {board.pages} · {board.total} member(s) ranked · "
        "ties go to who got there first",
        buttons=tuple(buttons),
    )


def stats_image(stats: MemberStats, png: bytes) -> Image:
    """Return the stats chart as a message image, named for the member and day."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in stats.name)[:40] or "member"
    return Image(f"stats-{safe}-{stats.today:%Y%m%d}.png", png, alt_text=stats.summary())


def render_stats(stats: MemberStats, png: bytes) -> Message:
    """Render a member's stats: the chart, with the text summary for screen readers."""
    return Message(
        header=f"Stats: {stats.name}",
        text=stats.summary(),
        image=stats_image(stats, png),
    )


@command(
    "leaderboard",
    "Show the cohort's leaderboard: week, month or all time; points, streak, mocks or drills",
    options=(
        Option("period", "week (default), month or all", "str"),
        Option("metric", "points (default), streak, mocks or drills", "str"),
        Option("page", "page number", "int"),
    ),
)
async def _leaderboard(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    board = await bot.standings.leaderboard(
        actor,
        period=args.get("period") or "week",
        metric=args.get("metric") or "points",
        page=args.get("page") or 1,
    )
    return Reply.of(render_board(board))


@command(
    "stats",
    "Show your stats (or another member's in this cohort) as a chart and a summary",
    options=(Option("member", "a member of this cohort, e.g. @name", "str"),),
    slow=True,
)
async def _stats(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    stats = await bot.standings.member_stats(actor, args.get("member"))
    png = await asyncio.to_thread(stats_png, stats)  # drawing takes a while; keep the loop free
    return Reply.of(render_stats(stats, png))


@command(
    "remind",
    "Get a private reminder at a local hour when today's streak is at risk (off to stop)",
    group="me",
    options=(Option("hour", "an hour of the day, 0 to 23, or off", "str", True),),
)
async def _me_remind(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    raw = str(args["hour"]).strip().lower()
    if raw in ("off", "none", "stop"):
        await bot.standings.set_reminder(actor, None)
        return Reply.text("Streak reminders are off.", tone="success")
    if not raw.isdigit():
        raise InvalidInput(f"{args['hour']!r} is not an hour; use 0 to 23, or off.")
    hour = int(raw)
    await bot.standings.set_reminder(actor, hour)
    return Reply.text(
        f"You'll get a reminder at {hour:02d}:00 your time on days your streak is at risk.",
        tone="success",
    )


@command("review", "Review a question your deck says is due (spaced repetition), one at a time")
async def _review(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return await bot.review_deck.reply(actor)
