"""The `/mock` chat commands: queue, room timer, scorecard and history of paired mocks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.commands import GROUP_DESCRIPTIONS, Option, command
from bot.domain.matching import parse_kind
from bot.errors import InvalidInput
from bot.messages import Message, MessageField, Reply
from bot.services.context import Actor
from bot.services.mocks import QueueView, RoomView

if TYPE_CHECKING:
    from bot.app import StudyBot

GROUP_DESCRIPTIONS["mock"] = "Practise the system-design interview in pairs"


def room_text(view: RoomView) -> str:
    """Describe a room in one line or two."""
    line = (
        f"Mock {view.room_id} round {view.round} ({view.kind}, {view.status}): "
        f"{view.interviewer} interviews {view.candidate} on {view.scenario}."
    )
    if view.phase is not None and view.phase_left_min is not None:
        line += (
            f"\n{view.phase}: {view.phase_left_min:.0f} min left in the phase, "
            f"{view.total_left_min or 0:.0f} in all."
        )
    return line


def queue_reply(view: QueueView) -> Reply:
    """Turn where a member stands into a reply."""
    if view.room is not None:
        return Reply.text(room_text(view.room))
    if view.position is None:
        return Reply.text("You are not queued for a mock; /mock join queues you.")
    text = f"You are number {view.position} in the {view.kind} mock queue"
    text += f" for {view.slot}." if view.slot else f" ({view.waited_min or 0:.0f} min so far)."
    if view.long_wait:
        text += (
            " Nobody else is waiting yet; you keep your place. Or practise now with StudyBot "
            "as the interviewer: /mock solo."
        )
    return Reply.text(text)


@command(
    "join",
    "Queue for a paired mock interview",
    group="mock",
    options=(Option("kind", "system-design (default), behavioral or coding"),),
)
async def _mock_join(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return queue_reply(await bot.mocks.join(actor, args.get("kind")))


@command("leave", "Leave the mock queue, or an unstarted mock", group="mock")
async def _mock_leave(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(await bot.mocks.leave(actor))


@command("status", "Show your place in the queue or your mock's time left", group="mock")
async def _mock_status(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return queue_reply(await bot.mocks.status_of(actor))


@command(
    "book",
    "Book a mock at a later time, in your time zone",
    group="mock",
    options=(
        Option(
            "when",
            "YYYY-MM-DD HH:MM in your time zone, then the kind if not system-design",
            "text",
            True,
        ),
    ),
)
async def _mock_book(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    # The time is prose-like ("2026-12-05 18:00 behavioral"), so it is the last option and the
    # kind, when given, is its last word.
    when = str(args["when"]).strip()
    head, _, last = when.rpartition(" ")
    kind = None
    if head and parse_kind(last) is not None and ":" not in last:
        when, kind = head, last
    return queue_reply(await bot.mocks.book(actor, when, kind))


@command("start", "Start the 45 minutes in your mock room", group="mock")
async def _mock_start(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.start(actor)), ephemeral=False)


@command("pause", "Pause your mock's clock", group="mock")
async def _mock_pause(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.pause(actor)), ephemeral=False)


@command("resume", "Restart your mock's clock", group="mock")
async def _mock_resume(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.resume(actor)), ephemeral=False)


@command(
    "extend",
    "Add minutes to the phase in progress",
    group="mock",
    options=(Option("minutes", "1 to 15", "str", True),),
)
async def _mock_extend(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.extend(actor, args["minutes"])), ephemeral=False)


@command("end", "End your mock now", group="mock")
async def _mock_end(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.end(actor)), ephemeral=False)


@command("swap", "Run a second round with the roles reversed", group="mock")
async def _mock_swap(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(room_text(await bot.mocks.swap(actor)), ephemeral=False)


@command("history", "List your past mocks", group="mock")
async def _mock_history(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    entries = await bot.mocks.history(actor)
    if not entries:
        return Reply.text("No mocks yet; /mock join queues you for one.")
    fields = tuple(
        MessageField(
            f"{e.when:%Y-%m-%d} · {e.role} with {e.partner}", f"{e.scenario}\n{e.scorecard}"
        )
        for e in entries
    )
    return Reply.of(Message(header="Your mocks", fields=fields))


def parse_ratings(text: str) -> dict[str, str]:
    """Parse "Requirements=great; Architecture=good" into aspect -> level."""
    ratings: dict[str, str] = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        if "=" not in part:
            raise InvalidInput(
                f"Write each rating as aspect=level, separated by ';' (got {part.strip()!r})."
            )
        aspect, level = part.split("=", 1)
        ratings[aspect.strip()] = level.strip()
    return ratings


@command(
    "scorecard",
    "Interviewer: rate the candidate on each of the guide's aspects",
    group="mock",
    options=(
        Option("ratings", "aspect=not-yet|good|great; ... for every aspect", "text", True),
        Option("flags", "red and green flags seen, separated by ;", "text"),
        Option("comment", "a comment for the candidate", "text"),
    ),
)
async def _mock_scorecard(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    flags = [f for f in (args.get("flags") or "").split(";") if f.strip()]
    text = await bot.mocks.submit_scorecard(
        actor,
        ratings=parse_ratings(args["ratings"]),
        flags=flags,
        comment=args.get("comment") or "",
    )
    return Reply.text(text, tone="success")


@command(
    "selfrate",
    "Candidate: rate your own interview",
    group="mock",
    options=(Option("level", "not-yet, good or great", "str", True),),
)
async def _mock_selfrate(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(await bot.mocks.self_rate(actor, args["level"]), tone="success")


@command(
    "simulate",
    "Console only: watch a whole mock by two simulated members on a fast clock",
    group="mock",
    options=(
        Option("speed", "clock speed-up (default 180: 45 minutes in 15 s)", "int"),
        Option("solo", "StudyBot interviews a simulated candidate instead", "bool"),
    ),
    slow=True,
)
async def _mock_simulate(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    if actor.platform != "console":
        raise InvalidInput(
            "Only the local console simulates a mock; /mock join pairs you with a member."
        )
    speed = args.get("speed", 180)
    if not 1 <= speed <= 6000:
        raise InvalidInput("Simulate at a speed from 1 to 6000, e.g. /mock simulate 180.")
    from bot.mock_demo import simulate_mock, simulate_solo

    if args.get("solo"):
        return Reply.text(await simulate_solo(bot, actor, float(speed)), tone="success")
    return Reply.text(await simulate_mock(bot, actor, float(speed)), tone="success")


@command(
    "rooms",
    "Admins: choose how this cohort's mock rooms open",
    group="mock",
    options=(
        Option("style", "Discord: thread or channel; Slack: channel or group-dm", "str", True),
    ),
)
async def _mock_rooms(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    return Reply.text(await bot.mocks.set_room_style(actor, args["style"]), tone="success")


@command(
    "solo",
    "Practise now with StudyBot as the interviewer",
    group="mock",
    options=(Option("scenario", "a scenario id or words of its title (default: one you lack)"),),
)
async def _mock_solo(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    view = await bot.solo.start(actor, args.get("scenario"))
    return Reply.text(
        room_text(view) + "\nTalk to the interviewer with /mock say <text>.", ephemeral=False
    )


@command(
    "say",
    "Solo mock: say something to the interviewer",
    group="mock",
    options=(Option("text", "what you say", "text", True),),
    slow=True,
)
async def _mock_say(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    line = await bot.solo.say(actor, args["text"])
    return Reply.text(f"**StudyBot** ({line.minute:.0f} min): {line.text}", ephemeral=False)


@command(
    "rate",
    "Solo mock: rate the interviewer 1-5",
    group="mock",
    options=(Option("stars", "1 to 5", "str", True), Option("comment", "what to improve", "text")),
)
async def _mock_rate(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
    text = await bot.solo.rate_interviewer(actor, args["stars"], args.get("comment") or "")
    return Reply.text(text, tone="success")
