"""The `/admin` chat commands: cohort admins re-post, re-grade, export and erase, all audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.commands import GROUP_DESCRIPTIONS, Option, command, user_reference
from bot.messages import Button, Image, Message, MessageField, Reply
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

GROUP_DESCRIPTIONS["admin"] = "Cohort admin tools: re-post, re-grade, export, erase (audited)"


@command(
    "repost",
    "Post a day's messages to this channel again",
    group="admin",
    admin=True,
    options=(Option("day", "the day number", "int", True),),
)
async def _admin_repost(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    done = await bot.admin.repost_day(actor, args["day"])
    return Reply.text(f"Day {done.day} posted again ({len(done.sent)} message(s)).", tone="success")


@command(
    "regrade",
    "Grade a stored answer again (its grade and points are replaced)",
    group="admin",
    admin=True,
    slow=True,
    options=(Option("answer", "the answer's number", "int", True),),
)
async def _admin_regrade(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    graded = await bot.admin.regrade(actor, args["answer"])
    score = f"{graded.grade.score:.0%}" if graded.grade is not None else "no score (self-check)"
    return Reply.text(f"Answer #{args['answer']} graded again: {score}.", tone="success")


@command(
    "rejudge",
    "Judge a stored submission again, as a new submission of its member",
    group="admin",
    admin=True,
    options=(Option("submission", "the submission's number", "int", True),),
)
async def _admin_rejudge(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    again = await bot.admin.rejudge(actor, args["submission"])
    return Reply.text(
        f"Submission #{args['submission']} is being judged again as #{again.id}; "
        "its member gets the result.",
        tone="success",
    )


@command(
    "export", "Export this cohort's data (CSV and JSON in a zip file)", group="admin", admin=True
)
async def _admin_export(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    export = await bot.admin.export(actor)
    rows = ", ".join(f"{name} {count}" for name, count in export.rows.items())
    # The faces upload a message's attachment as a file under its name, whatever its type.
    return Reply.of(
        Message(
            text=f"This cohort's data: {rows}.",
            image=Image(export.filename, export.data, "cohort export (zip: data.json + CSVs)"),
        )
    )


@command(
    "erase",
    "Erase a member's data on request (asks for confirmation first)",
    group="admin",
    admin=True,
    options=(
        Option("user", "the member, e.g. @name", "str", True),
        Option("confirm", "the code the first step shows"),
    ),
)
async def _admin_erase(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    user = user_reference(args["user"])
    if "confirm" not in args:
        preview = await bot.admin.erase_preview(actor, user)
        confirm = f"/admin erase {user} confirm={preview.code}"
        fields = tuple(MessageField(t, str(n), inline=True) for t, n in preview.counts.items() if n)
        return Reply.of(
            Message(
                text=f"Erase everything of {user} in this cohort? It cannot be undone. "
                f"To confirm: `{confirm}`",
                fields=fields,
                tone="warning",
                buttons=(Button("Erase", "command", confirm, style="danger"),),
            )
        )
    erased = await bot.admin.erase(actor, user, args["confirm"])
    total = sum(erased.values())
    return Reply.text(f"Erased {total} row(s) of {user}'s data.", tone="success")


@command("audit", "Show the latest admin actions in this cohort", group="admin", admin=True)
async def _admin_audit(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    actions = await bot.admin.audit(actor)
    if not actions:
        return Reply.text("No admin action yet in this cohort.")
    lines = [
        f"{a.created_at:%Y-%m-%d %H:%M} {a.actor_user_id}: {a.action} {a.target}".rstrip()
        for a in actions
    ]
    return Reply.of(Message(header="Admin actions", text="\n".join(lines)))
