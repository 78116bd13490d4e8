"""The chat commands every face offers, and the one dispatcher that runs them.

A face turns its platform's event into `dispatch(bot, actor, "cohort setup", {...})` and renders
the `Reply`. The catalogue also feeds each face's registration and help text, so the three
faces cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from bot.errors import StudyBotError
from bot.logs import request_scope
from bot.messages import Button, Message, MessageField, Reply
from bot.services.cohorts import describe_schedule
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

# "file": a file's bytes where the platform attaches one (Discord), else a path (console).
OptionType = Literal["str", "int", "bool", "text", "file"]


@dataclass(frozen=True)
class Option:
    """One argument of a command."""

    name: str
    description: str
    type: OptionType = "str"
    required: bool = False


@dataclass(frozen=True)
class Command:
    """A chat command: `group name` (or just `name`), what it does, its options."""

    name: str
    description: str
    group: str | None = None
    options: tuple[Option, ...] = ()
    admin: bool = False
    slow: bool = False  # answer within the platform's deadline first, then do the work
    handler: Callable[[StudyBot, Actor, dict[str, Any]], Awaitable[Reply]] | None = field(
        default=None, compare=False, repr=False
    )

    @property
    def path(self) -> str:
        """Return 'group name' or 'name'."""
        return f"{self.group} {self.name}" if self.group else self.name

    def usage(self) -> str:
        """Render the command with its options, as typed in the console or Slack."""
        parts = [f"/{self.path}"]
        for opt in self.options:
            parts.append(f"<{opt.name}>" if opt.required else f"[{opt.name}]")
        return " ".join(parts)


GROUP_DESCRIPTIONS = {
    "cohort": "Set up and run this channel's study cohort",
    "me": "Your own settings",
    "rubric": "Review rubric points an LLM drafted",
    "grade": "Review grades the LLM grader and the claim checks disagree on",
}

COMMANDS: dict[str, Command] = {}


def command(
    name: str,
    description: str,
    *,
    group: str | None = None,
    options: tuple[Option, ...] = (),
    admin: bool = False,
    slow: bool = False,
) -> Callable[[Callable[..., Awaitable[Reply]]], Callable[..., Awaitable[Reply]]]:
    """Register a handler in the catalogue."""

    def register(fn: Callable[..., Awaitable[Reply]]) -> Callable[..., Awaitable[Reply]]:
        spec = Command(name, description, group, options, admin, slow, fn)
        COMMANDS[spec.path] = spec
        return fn

    return register


def coerce_args(spec: Command, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check and convert a command's arguments, with a clear message for each mistake."""
    known = {opt.name: opt for opt in spec.options}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise StudyBotError(
            f"/{spec.path} has no option {', '.join(unknown)}.", hint=f"Usage: {spec.usage()}"
        )
    out: dict[str, Any] = {}
    for opt in spec.options:
        value = raw.get(opt.name)
        if value is None or value == "":
            if opt.required:
                raise StudyBotError(
                    f"/{spec.path} needs {opt.name} ({opt.description}).",
                    hint=f"Usage: {spec.usage()}",
                )
            continue
        if opt.type == "int":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise StudyBotError(
                    f"{opt.name} must be a whole number, got {value!r}.",
                    hint=f"Usage: {spec.usage()}",
                ) from None
        elif opt.type == "bool" and not isinstance(value, bool):
            text = str(value).strip().lower()
            if text not in ("yes", "no", "true", "false", "on", "off", "1", "0"):
                raise StudyBotError(f"{opt.name} must be yes or no, got {value!r}.")
            value = text in ("yes", "true", "on", "1")
        elif opt.type == "file" and isinstance(value, bytes):
            pass  # an attachment's content, kept as it came
        else:
            value = str(value) if not isinstance(value, bool) else value
        out[opt.name] = value
    return out


def _split_path(body: str) -> tuple[str, str]:
    """Split the command path (one or two words) from the rest of the line, kept verbatim."""
    first, rest = _take_word(body)
    second, after = _take_word(rest)
    if second and (f"{first} {second}" in COMMANDS or first in GROUP_DESCRIPTIONS):
        return f"{first} {second}", after
    return first, rest


def _take_word(text: str) -> tuple[str, str]:
    """Return the first word and everything after the one whitespace character that ends it."""
    text = text.lstrip()
    match = re.match(r"\S+", text)
    if match is None:
        return "", ""
    return match.group(0), text[match.end() + 1 :]


def _next_word(rest: str) -> tuple[str, str]:
    """Take one word; a quoted word (or `name="quoted value"`) runs to its closing quote."""
    rest = rest.lstrip()
    quoted = re.match(r"""(\w+=)?(["'])(.*?)\2(?=\s|$)""", rest, re.DOTALL)
    if quoted is not None:
        return (quoted.group(1) or "") + quoted.group(3), rest[quoted.end() :]
    match = re.match(r"\S+", rest)
    if match is None:
        return "", ""
    return match.group(0), rest[match.end() :]


def _later_names(spec: Command, name: str, args: Mapping[str, Any]) -> list[str]:
    """Return the options after `name` that are still unset."""
    names = [o.name for o in spec.options]
    return [n for n in names[names.index(name) + 1 :] if n not in args]


def _take_prose(rest: str, later: list[str]) -> tuple[str, str]:
    """Take prose verbatim: to the end of the line, or up to a later option typed `name=`.

    Only a command with several prose options (a scorecard's ratings, flags and comment) has
    later names; the last prose option always takes the rest of the line.
    """
    if later:
        found = re.search(rf"\s(?:{'|'.join(map(re.escape, later))})=", rest)
        if found is not None:
            return rest[: found.start()].strip(), rest[found.start() :]
    return rest.strip(), ""


def parse_command_line(line: str) -> tuple[str, dict[str, Any]]:
    """Split a typed command into its path and arguments; the prose argument is kept verbatim.

    The line is not a shell: words are split on spaces, options may be written `name=value`, and
    the last free prose (`text`) option takes the rest of the line exactly as typed, with its
    quotes, apostrophes, backslashes and newlines.
    """
    body = line.strip().lstrip("/")
    if not body.strip():
        raise StudyBotError("Type a command, e.g. /help.")
    path, rest = _split_path(body)
    spec = COMMANDS.get(path)
    args: dict[str, Any] = {}
    if spec is None:
        return path, {}
    options = {opt.name: opt for opt in spec.options}
    while True:
        free = [o for o in spec.options if o.name not in args]
        if not free or not rest.strip():
            break
        word, after = _next_word(rest)
        name, sep, value = word.partition("=")
        if sep and name in options and name not in args:
            if options[name].type == "text":
                args[name], rest = _take_prose(
                    rest.lstrip()[len(name) + 1 :], _later_names(spec, name, args)
                )
            else:
                args[name] = value
                rest = after
            continue
        current = free[0]
        if current.type == "text":
            args[current.name], rest = _take_prose(rest, _later_names(spec, current.name, args))
            continue
        args[current.name] = word
        rest = after
    if rest.strip():
        raise StudyBotError(
            f"Too many values for /{path}: {rest.strip()[:80]}.",
            hint=f"Usage: {spec.usage()}",
        )
    return path, args


async def dispatch(bot: StudyBot, actor: Actor, path: str, raw: Mapping[str, Any]) -> Reply:
    """Run one chat command and return what to show; StudyBotError passes to the face."""
    path = " ".join(path.strip().lstrip("/").split())
    spec = COMMANDS.get(path)
    if spec is None or spec.handler is None:
        group_cmds = [c for c in COMMANDS.values() if c.group == path]
        if group_cmds:
            return help_reply(group=path)
        raise StudyBotError(f"Unknown command /{path}.", hint="Type /help for the list.")
    async with request_scope(bot, actor, path):  # every log line of it names the request
        return await spec.handler(bot, actor, coerce_args(spec, raw))


def help_reply(group: str | None = None) -> Reply:
    """List the commands, grouped, with their usage."""
    lines: list[MessageField] = []
    groups: dict[str | None, list[Command]] = {}
    for spec in COMMANDS.values():
        if group is not None and spec.group != group:
            continue
        groups.setdefault(spec.group, []).append(spec)
    for name, specs in groups.items():
        title = f"/{name} — {GROUP_DESCRIPTIONS.get(name, '')}" if name else "General"
        body = "\n".join(
            f"`{s.usage()}` — {s.description}{' (admins)' if s.admin else ''}" for s in specs
        )
        lines.append(MessageField(title, body))
    return Reply.of(
        Message(
            header="StudyBot commands",
            text="A 133-day ML-systems interview-prep curriculum, one day at a time.",
            fields=tuple(lines),
            footer="Options go in order or as name=value: /cohort setup timezone=Europe/Berlin",
        )
    )


# --- general -------------------------------------------------------------------------------


@command("help", "Show this list of commands")
async def _help(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return help_reply()


@command("today", "Show today's plan and questions (only to you)")
async def _today(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    # The one definition of "today": the service's current day, also shown by /cohort status.
    day = await bot.cohorts.current_day(actor)
    return Reply.of(bot.daily.compose_day_summary(day), ephemeral=True)


@command(
    "day", "Show any day's plan (only to you)", options=(Option("n", "day number", "int", True),)
)
async def _day(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.of(bot.daily.compose_day_summary(args["n"]), ephemeral=True)


@command(
    "question",
    "Show a question with its rubric",
    options=(Option("id", "question id, e.g. E3-082 or D121-03", "str", True),),
)
async def _question(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.of(bot.daily.compose_question(args["id"]))


@command(
    "answer",
    "Answer a question; you get a grade per rubric point",
    options=(
        Option("id", "question id, e.g. E3-082 or D121-03", "str", True),
        Option("text", "your answer", "text", True),
    ),
    slow=True,
)
async def _answer(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return await bot.answers.answer(actor, args["id"], args["text"])


async def thread_reply(bot: StudyBot, actor: Actor, text: str) -> Reply | None:
    """Grade a reply in a question's thread; None when the thread is not a question's."""
    async with request_scope(bot, actor, "thread reply"):
        return await bot.answers.thread_answer(actor, text)


# --- rubric --------------------------------------------------------------------------------


@command(
    "accept",
    "Accept a drafted rubric as it is",
    group="rubric",
    admin=True,
    options=(Option("id", "question id", "str", True),),
)
async def _rubric_accept(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    draft = await bot.answers.review_rubric(actor, args["id"])
    return Reply.text(
        f"Rubric of {draft.question_id} accepted ({len(draft.points)} points).", tone="success"
    )


@command(
    "edit",
    "Replace a drafted rubric's points (separate them with ;)",
    group="rubric",
    admin=True,
    options=(
        Option("id", "question id", "str", True),
        Option("points", "the rubric points, separated by ;", "text", True),
    ),
)
async def _rubric_edit(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    draft = await bot.answers.review_rubric(actor, args["id"], points=args["points"].split(";"))
    return Reply.text(
        f"Rubric of {draft.question_id} saved ({len(draft.points)} points).", tone="success"
    )


# --- grade ---------------------------------------------------------------------------------


@command(
    "review",
    "List points under review, or accept / reject one (admins)",
    group="grade",
    admin=True,
    options=(
        Option("action", "list, accept or reject (default list)"),
        Option("id", "review number, for accept and reject", "int"),
    ),
)
async def _grade_review(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    action = str(args.get("action") or "list").strip().lower()
    if action == "list":
        return await bot.reviews.list_open(actor)
    if action not in ("accept", "reject"):
        raise StudyBotError(
            f"Unknown action {action!r}.",
            hint="Use /grade review list, accept <id> or reject <id>.",
        )
    review_id = args.get("id")
    if review_id is None:
        raise StudyBotError(
            f"/grade review {action} needs the review number.", hint="See /grade review list."
        )
    review = await bot.reviews.resolve(actor, review_id, accept=action == "accept")
    if action == "accept":
        gained = f" (+{review.points_delta} points)" if review.points_delta else ""
        text = f"Review #{review.id} accepted: the point counts as {review.claimed}{gained}."
    else:
        text = f"Review #{review.id} rejected: the point stays {review.scored}."
    return Reply.text(text, tone="success")


# --- cohort --------------------------------------------------------------------------------


@command(
    "setup",
    "Create or change this channel's cohort",
    group="cohort",
    admin=True,
    options=(
        Option("timezone", "IANA time zone, e.g. Europe/Berlin"),
        Option("post_time", "local time of the daily post, HH:MM"),
        Option("start_date", "day 1, YYYY-MM-DD (default: today, or tomorrow if too late)"),
        Option("length", "number of days (1-133)", "int"),
        Option("weekdays", "posting days: daily, weekdays, mon-fri, mon,wed,fri"),
        Option("name", "cohort name"),
        Option("answers_public", "post grades in the thread (yes/no)", "bool"),
        Option("leaderboard_public", "show the leaderboard as a public web page (yes/no)", "bool"),
    ),
)
async def _cohort_setup(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    existed = await bot.cohorts.cohort_for(actor) is not None
    name = args.get("name")
    if name is None and not existed and actor.channel_name:
        name = f"#{actor.channel_name.lstrip('#')}"
    cohort = await bot.cohorts.setup(
        actor,
        name=name,
        timezone=args.get("timezone"),
        post_time=args.get("post_time"),
        start_date=args.get("start_date"),
        length=args.get("length"),
        weekdays=args.get("weekdays"),
        answers_public=args.get("answers_public"),
        default_timezone=bot.settings.schedule.default_timezone,
        default_post_time=bot.settings.schedule.default_post_time,
    )
    if args.get("leaderboard_public") is not None:
        await bot.dashboard.set_leaderboard_public(actor, args["leaderboard_public"])
    verb = "updated" if existed else "created"
    return Reply.text(
        f"Cohort **{cohort.name}** {verb}: posts at {describe_schedule(cohort)}.",
        tone="success",
        ephemeral=False,
    )


@command("join", "Join this channel's cohort", group="cohort")
async def _cohort_join(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    await bot.cohorts.join(actor)
    return Reply.text("Welcome aboard! Answer in each question's thread.", tone="success")


@command("leave", "Leave this channel's cohort (your history stays)", group="cohort")
async def _cohort_leave(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    await bot.cohorts.leave(actor)
    return Reply.text("You left the cohort. /cohort join brings you back.")


@command(
    "pause",
    "Pause the daily posts",
    group="cohort",
    admin=True,
    options=(Option("reason", "why (shown in /cohort status)", "text"),),
)
async def _cohort_pause(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    await bot.cohorts.set_paused(actor, True, reason=args.get("reason"))
    return Reply.text("Daily posts paused. /cohort resume restarts them.", ephemeral=False)


@command("resume", "Resume the daily posts", group="cohort", admin=True)
async def _cohort_resume(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    await bot.cohorts.set_paused(actor, False)
    return Reply.text("Daily posts resumed.", tone="success", ephemeral=False)


@command(
    "skip",
    "Move the schedule later by some days, after a confirmation (no day is skipped or repeated)",
    group="cohort",
    admin=True,
    options=(
        Option("days", "how many days later (1-30)", "int", True),
        Option("confirm", "the code the first step shows"),
    ),
)
async def _cohort_skip(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    days = args["days"]
    if "confirm" not in args:
        preview = await bot.cohorts.skip_preview(actor, days)
        if preview.next_at_before and preview.next_at_after:
            effect = (
                f"Day {preview.next_day} would post {preview.next_at_after:%Y-%m-%d %H:%M} UTC "
                f"instead of {preview.next_at_before:%Y-%m-%d %H:%M} UTC."
            )
        else:
            effect = "No post is scheduled, so only the start moves."
        confirm = f"/cohort skip {days} confirm={preview.code}"
        return Reply.of(
            Message(
                text=f"Move the schedule {days} day(s) later? {effect} To confirm: `{confirm}`",
                tone="warning",
                buttons=(Button(f"Move {days} day(s) later", "command", confirm, style="danger"),),
            )
        )
    await bot.cohorts.skip_confirmed(actor, days, args["confirm"])
    status = await bot.cohorts.status(actor)
    when = (
        f" Next: day {status.next_post_day} at {status.next_post_at:%Y-%m-%d %H:%M} UTC."
        if status.next_post_at
        else ""
    )
    return Reply.text(f"Schedule moved {days} day(s) later.{when}", ephemeral=False)


@command(
    "admin",
    "Make a member a cohort admin, or take it back",
    group="cohort",
    admin=True,
    options=(
        Option("action", "add or remove", "str", True),
        Option("user", "the member, e.g. @name", "str", True),
    ),
)
async def _cohort_admin(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    action = args["action"].lower()
    if action not in ("add", "remove"):
        raise StudyBotError(
            f"/cohort admin takes add or remove, not {args['action']!r}.",
            hint="Usage: /cohort admin add <user>",
        )
    user = user_reference(args["user"])
    await bot.cohorts.set_admin(actor, user, admin=action == "add")
    done = "is now an admin of" if action == "add" else "is no longer an admin of"
    return Reply.text(f"{user} {done} this cohort.", tone="success", ephemeral=False)


def user_reference(text: str) -> str:
    """Return the user id in a typed mention: '@bob', '<@U123|bob>' or '<@!123>'."""
    ref = text.strip()
    if ref.startswith("<@") and ref.endswith(">"):
        ref = ref[2:-1].lstrip("!").split("|", 1)[0]
    return ref.lstrip("@")


@command("status", "Show the cohort's schedule, day and members", group="cohort")
async def _cohort_status(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    st = await bot.cohorts.status(actor)
    c = st.cohort
    # The same day /today shows: the service's current day; before day 1 is posted, none.
    started = st.next_post_day is None or st.next_post_day > 1
    today = await bot.cohorts.current_day(actor) if started else None
    fields = [
        MessageField("Schedule", describe_schedule(c)),
        MessageField(
            "Today",
            f"Day {today} of {c.curriculum_length}" if today else "Not started yet",
        ),
        MessageField(
            "Next post",
            f"Day {st.next_post_day}, {st.next_post_at:%Y-%m-%d %H:%M} UTC"
            if st.next_post_at
            else "—",
        ),
        MessageField("Members", str(st.members), inline=True),
        MessageField("Admins", ", ".join(st.admins) or "—", inline=True),
    ]
    if c.paused:
        fields.append(MessageField("Paused", c.paused_reason or "yes"))
    return Reply.of(Message(header=f"Cohort {c.name}", fields=tuple(fields)))


# --- me ------------------------------------------------------------------------------------


@command(
    "timezone",
    "Set your own time zone",
    group="me",
    options=(Option("zone", "IANA time zone, e.g. Europe/Berlin", "str", True),),
)
async def _me_timezone(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    count = await bot.cohorts.set_member_timezone(actor, args["zone"])
    return Reply.text(f"Your time zone is now {args['zone']} ({count} cohort(s)).", tone="success")


# The mock and drill commands register themselves in the catalogue above.
import bot.admin_commands  # noqa: E402
import bot.dashboard_commands  # noqa: E402
import bot.drill_commands  # noqa: E402
import bot.mock_commands  # noqa: E402
import bot.standings_commands  # noqa: E402, F401
