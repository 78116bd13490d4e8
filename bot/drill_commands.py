"""The drill commands: /submit, /drill list, /drill show, /drill template, /drill board.

Registered in the one catalogue (`bot.commands`) by importing this module there. A face that can
show progress while a submission waits sets `submit_progress` for the call: each change of the
submission's state is handed to it once (the face edits one message in place).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands import GROUP_DESCRIPTIONS, Option, command
from bot.errors import InvalidInput
from bot.messages import Message, MessageField, Reply
from bot.services.context import Actor
from bot.services.submissions import (
    MAX_SOURCE_BYTES,
    SubmissionProgress,
    render_board,
)

if TYPE_CHECKING:
    from bot.app import StudyBot

ProgressSink = Callable[[str], Awaitable[object] | None]
# Where the face shows "queued: 2 ahead" / "being judged" while a submission waits.
submit_progress: ContextVar[ProgressSink | None] = ContextVar("submit_progress", default=None)

GROUP_DESCRIPTIONS["drill"] = "Coding drills: read them, get the starter file, see the boards"


def read_submitted_file(actor: Actor, file: Any) -> bytes:
    """Return the submitted file's bytes: an attachment's, or a console path's."""
    if isinstance(file, bytes):
        return file
    if actor.platform != "console":
        # A platform without attachments on commands (Slack) asks for the code in a form.
        text = str(file)
        if "\n" not in text.strip():
            raise InvalidInput(
                "Paste your whole file into the code field of /submit, or attach it.",
                hint="Leave the file out of the command line and a form asks for the code.",
            )
        return text.encode("utf-8")
    path = Path(str(file)).expanduser()
    if not path.is_file():
        raise InvalidInput(
            f"There is no file at {str(file)!r}.",
            hint="Give the path of your .py file, e.g. /submit softmax ./softmax.py",
        )
    check_attachment_size(path.stat().st_size)  # refused before it is read into memory
    return path.read_bytes()


def check_attachment_size(size: int) -> None:
    """Refuse an attached file over the limit before it is downloaded."""
    if size > MAX_SOURCE_BYTES:
        raise InvalidInput(
            f"Your file is {size / 1024:.0f} KB; a submission may be at most "
            f"{MAX_SOURCE_BYTES // 1024} KB.",
            hint="Submit only the code of the drill, without data or output pasted in.",
        )


@command(
    "submit",
    "Submit your solution to a coding drill: judged in a sandbox, timed and ranked",
    options=(
        Option("drill", "the drill's id (see /drill list)", "str", True),
        Option("file", "your .py file (a path in the console)", "file", True),
        Option("device", "device kind to judge on: cpu (default), cuda, cuda-h100", "str"),
    ),
    slow=True,
)
async def _submit(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    data = read_submitted_file(actor, args["file"])
    sink = submit_progress.get()
    last: list[str] = []

    async def on_status(progress: SubmissionProgress) -> None:
        line = progress.describe()
        if sink is None or (last and last[-1] == line):
            return  # a face without progress, or nothing new: never flood
        last.append(line)
        shown = sink(line)
        if shown is not None:
            await shown

    return await bot.submissions.submit_and_wait(
        actor, args["drill"], data, device_kind=args.get("device"), on_status=on_status
    )


@command("list", "List the coding drills", group="drill")
async def _drill_list(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    from gpu_runner.drills import PROSE_QUESTIONS

    lines = [f"`{drill_id}` — {title}" for drill_id, title in await bot.submissions.drill_list()]
    if PROSE_QUESTIONS:
        lines.append("\nAnswered in prose, not code (graded against the question's sketch points):")
        lines += [f"E12-{n} — {what}: /question E12-{n}" for n, what in PROSE_QUESTIONS.items()]
    return Reply.of(
        Message(
            header="Coding drills",
            text="\n".join(lines),
            footer="Read one with /drill show <id>, start from /drill template <id>, "
            "then /submit <id> <file>.",
        )
    )


@command(
    "show",
    "Show what a drill asks for",
    group="drill",
    options=(Option("id", "the drill's id", "str", True),),
)
async def _drill_show(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    drill = await bot.submissions.find_drill(args["id"])
    return Reply.of(
        Message(
            header=f"Drill {drill.id}: {drill.title}",
            text=drill.description,
            fields=(MessageField("Implement", f"`{drill.entry}` ({drill.kind})"),),
            footer=f"Starter file: /drill template {drill.id}. Submit: /submit {drill.id} <file>.",
        )
    )


@command(
    "template",
    "Get a drill's starter file",
    group="drill",
    options=(Option("id", "the drill's id", "str", True),),
)
async def _drill_template(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    drill = await bot.submissions.find_drill(args["id"])
    return Reply.of(
        Message(
            header=f"Starter file for {drill.id}",
            code=drill.template,
            code_language="python",
            footer=f"Fill it in and submit it with /submit {drill.id} <file>.",
        )
    )


@command(
    "board",
    "Show a drill's leaderboard on a device kind",
    group="drill",
    options=(
        Option("id", "the drill's id", "str", True),
        Option("device", "device kind: cpu (default), cuda, cuda-h100", "str"),
    ),
)
async def _drill_board(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    board = await bot.submissions.board(actor, args["id"], args.get("device"))
    return Reply.of(render_board(board), ephemeral=False)
