"""The console face: a local chat in the terminal on the embedded default, no tokens needed.

Members type the same slash commands the chat platforms have; the simulated channel `#study`
receives the cohort's daily posts on schedule.
"""

from __future__ import annotations

import asyncio
import itertools
import shlex
import sys
import textwrap
from datetime import datetime
from typing import TYPE_CHECKING, Any, TextIO

from bot.commands import COMMANDS, dispatch
from bot.errors import StudyBotError, user_message_for
from bot.messages import Channel, Message, Reply, SentMessage
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

WORKSPACE = "local"
CHANNEL = "study"
USER = "you"
_TONE_MARK = {"info": "", "success": "✓ ", "warning": "! ", "error": "✗ "}


def render_text(message: Message, *, width: int = 88) -> str:
    """Render a message as readable plain text."""
    out: list[str] = []
    if message.header:
        out.append(f"━━ {message.header} ━━")
    if message.text:
        body = _TONE_MARK[message.tone] + message.text
        out.extend(textwrap.fill(p, width) if len(p) > width else p for p in body.split("\n"))
    for fld in message.fields:
        out.append(f"▸ {fld.name}")
        out.extend("  " + line for line in fld.value.split("\n"))
    if message.code:
        out.append(f"```{message.code_language}")
        out.append(message.code)
        out.append("```")
    if message.image:
        out.append(f"[image: {message.image.filename} — {message.image.alt_text}]")
    for button in message.buttons:
        out.append(f"[{button.label}]")
    if message.footer:
        out.append(f"  ({message.footer})")
    return "\n".join(out)


def parse_command_line(line: str) -> tuple[str, dict[str, Any]]:
    """Split '/cohort setup timezone=Europe/Berlin 08:00' into a command path and its options."""
    try:
        words = shlex.split(line.strip().lstrip("/"))
    except ValueError as exc:
        raise StudyBotError(f"Could not read that command: {exc}.") from None
    if not words:
        raise StudyBotError("Type a command, e.g. /help.")
    path = words[0]
    rest = words[1:]
    if rest and f"{path} {rest[0]}" in COMMANDS:
        path, rest = f"{path} {rest[0]}", rest[1:]
    spec = COMMANDS.get(path)
    args: dict[str, Any] = {}
    positional: list[str] = []
    for word in rest:
        name, sep, value = word.partition("=")
        if sep and spec and any(o.name == name for o in spec.options):
            args[name] = value
        else:
            positional.append(word)
    if spec is not None:
        free = [o for o in spec.options if o.name not in args]
        for index, opt in enumerate(free):
            if not positional:
                break
            if opt.type == "text" or index == len(free) - 1:
                args[opt.name] = " ".join(positional)
                positional = []
            else:
                args[opt.name] = positional.pop(0)
    if positional:
        raise StudyBotError(
            f"Too many values for /{path}: {' '.join(positional)}.",
            hint=f"Usage: {spec.usage()}" if spec else "Type /help.",
        )
    return path, args


class ConsolePublisher:
    """Prints posts to the simulated channel; threads are numbered like messages."""

    platform = "console"

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._ids = itertools.count(1)
        self._sent: dict[str, SentMessage] = {}

    def _print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Show a message in the channel (a repeated key is shown once)."""
        if idempotency_key in self._sent:
            return self._sent[idempotency_key]
        message_id = f"m{next(self._ids)}"
        prefix = f"#{channel.channel_id}"
        if message.thread_starter:
            prefix += f" · thread {message_id}"
        self._print(f"\n[{prefix}]\n{render_text(message)}")
        sent = SentMessage(
            message_id, channel.channel_id, message_id if message.thread_starter else None
        )
        self._sent[idempotency_key] = sent
        return sent

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        """Return a message already shown with this key."""
        return self._sent.get(idempotency_key)

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        """Show a reply under a thread."""
        message_id = f"m{next(self._ids)}"
        self._print(
            f"\n[#{channel.channel_id} · thread {thread_id} · reply]\n{render_text(message)}"
        )
        return SentMessage(message_id, channel.channel_id, thread_id)

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        """Show a private message."""
        message_id = f"m{next(self._ids)}"
        self._print(f"\n[DM to {user_id}]\n{render_text(message)}")
        return SentMessage(message_id, f"dm:{user_id}")

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Show an edited message."""
        self._print(f"\n[edited {sent.message_id}]\n{render_text(message)}")


class ConsoleFace:
    """The read-eval-print loop of the local chat."""

    def __init__(
        self,
        bot: StudyBot,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user: str = USER,
    ) -> None:
        self._bot = bot
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self.publisher = ConsolePublisher(self._out)
        self.actor = Actor(
            platform="console",
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            user_id=user,
            display_name=user,
            is_workspace_admin=True,
        )
        bot.add_publisher("console", self.publisher)

    def say(self, text: str) -> None:
        """Print a line from the bot."""
        self._out.write(text + "\n")
        self._out.flush()

    def show(self, reply: Reply) -> None:
        """Print a command's reply."""
        label = "only you can see this" if reply.ephemeral else "#study"
        body = "\n\n".join(render_text(message) for message in reply.messages)
        self.say(f"[{label}]\n{body}")

    async def ensure_cohort(self) -> None:
        """Create the local cohort on first start, so the day arrives without any set-up."""
        if await self._bot.cohorts.cohort_for(self.actor) is None:
            cohort = await self._bot.cohorts.setup(
                self.actor,
                name="Local study group",
                default_timezone=self._bot.settings.schedule.default_timezone,
                default_post_time=self._bot.settings.schedule.default_post_time,
            )
            self.say(
                f"Created the local cohort: day 1 is {cohort.start_date}, posts at "
                f"{cohort.post_time:%H:%M} {cohort.timezone}. /cohort setup changes it."
            )

    async def handle_line(self, line: str) -> None:
        """Run one typed line."""
        line = line.strip()
        if not line:
            return
        if not line.startswith("/"):
            self.say("Commands start with /, e.g. /help.")
            return
        try:
            path, args = parse_command_line(line)
            reply = await dispatch(self._bot, self.actor, path, args)
        except Exception as exc:
            self.say(f"✗ {user_message_for(exc, context=line)}")
            return
        self.show(reply)

    async def run(self, *, greet: bool = True) -> None:
        """Read commands until EOF or /quit."""
        if greet:
            now: datetime = self._bot.clock.now()
            self.say(
                f"StudyBot console — {now:%Y-%m-%d %H:%M} UTC. Type /help for commands, "
                "/quit to leave."
            )
        loop = asyncio.get_running_loop()
        while True:
            if self._in.isatty():
                self._out.write("> ")
                self._out.flush()
            line = await loop.run_in_executor(None, self._in.readline)
            if not line:
                break
            if line.strip() in ("/quit", "/exit"):
                self.say("Bye.")
                break
            await self.handle_line(line)
