"""The console face: a local chat in the terminal on the embedded default, no tokens needed.

Members type the same slash commands the chat platforms have; the simulated channel `#study`
receives the cohort's daily posts on schedule. `/thread` enters a question's thread, where a
plain line is an answer, and `/as <name>` shows the chat as another member sees it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import select
import sys
import tempfile
import textwrap
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.commands import COMMANDS, dispatch, help_reply, parse_command_line
from bot.drill_commands import submit_progress
from bot.errors import StudyBotError, user_message_for
from bot.messages import Channel, Image, Message, MessageField, Reply, SentMessage
from bot.services.context import Actor

if TYPE_CHECKING:
    from bot.app import StudyBot

__all__ = ["ConsoleFace", "ConsolePublisher", "render_text"]

WORKSPACE = "local"
CHANNEL = "study"
USER = "you"
_TONE_MARK = {"info": "", "success": "✓ ", "warning": "! ", "error": "✗ "}
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_CODE = re.compile(r"`([^`\n]+)`")
_ANSI_BOLD = "\033[1m{}\033[0m"

CONSOLE_HELP = MessageField(
    "Console",
    "\n".join(
        (
            "/thread <question id or number> — enter a question's thread; plain lines answer it",
            "/thread — list the questions of the latest post",
            "/back — leave the thread",
            "/as <name> — act as another member (joins the cohort if needed); /as you to return",
            "/quit — leave the console (Ctrl-D and Ctrl-C too)",
        )
    ),
)


def strip_markdown(text: str, *, bold: Callable[[str], str] | None = None) -> str:
    """Render the chat's Markdown markers (**bold**, `code`) for a terminal."""
    text = _BOLD.sub(lambda m: bold(m.group(1)) if bold else m.group(1), text)
    return _CODE.sub(lambda m: m.group(1), text)


IMAGE_DIR = Path(tempfile.gettempdir()) / "studybot-images"


def save_image(image: Image, directory: Path | None = None) -> Path:
    """Save a message's picture where the terminal user can open it; return its path."""
    folder = directory or IMAGE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(image.filename).name  # never a path the message chose
    path.write_bytes(image.data)
    return path


def render_text(message: Message, *, width: int = 88, ansi: bool = False) -> str:
    """Render a message as readable plain text (ANSI bold when `ansi`)."""
    bold = (lambda s: _ANSI_BOLD.format(s)) if ansi else None

    def md(text: str) -> str:
        return strip_markdown(text, bold=bold)

    out: list[str] = []
    if message.header:
        out.append(f"━━ {md(message.header)} ━━")
    if message.text:
        body = md(_TONE_MARK[message.tone] + message.text)
        out.extend(textwrap.fill(p, width) if len(p) > width else p for p in body.split("\n"))
    for fld in message.fields:
        out.append(f"▸ {md(fld.name)}")
        out.extend("  " + md(line) for line in fld.value.split("\n"))
    if message.code:
        out.append(f"```{message.code_language}")
        out.append(message.code)
        out.append("```")
    if message.image:
        path = save_image(message.image)
        out.append(f"[image saved: {path}]")
    for button in message.buttons:
        out.append(f"[{button.label}: {button.value}]" if button.value else f"[{button.label}]")
    if message.footer:
        out.append(f"  ({md(message.footer)})")
    return "\n".join(out)


class ConsolePublisher:
    """Prints posts to the simulated channel; threads are numbered like messages.

    Ids carry a per-process prefix, so a thread recorded by an earlier run is never mistaken
    for one of this run's messages.
    """

    platform = "console"

    def __init__(self, out: TextIO, *, ansi: bool = False) -> None:
        self._out = out
        self._ansi = ansi
        self._prefix = secrets.token_hex(2)
        self._ids = itertools.count(1)
        self._sent: dict[str, SentMessage] = {}
        self._dms: dict[tuple[str, str], SentMessage] = {}  # (user, key) -> DM
        # The questions of the latest day's post, in order: question id -> thread id.
        self.latest_threads: dict[str, str] = {}
        self.threads: dict[str, str] = {}

    def _new_id(self) -> str:
        return f"{self._prefix}.{next(self._ids)}"

    def _print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def _render(self, message: Message) -> str:
        return render_text(message, ansi=self._ansi)

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        """Show a message in the channel (a repeated key is shown once)."""
        if idempotency_key in self._sent:
            return self._sent[idempotency_key]
        message_id = self._new_id()
        prefix = f"#{channel.channel_id}"
        if message.thread_starter:
            prefix += f" · thread {message_id}"
        if message.key == "plan":
            self.latest_threads = {}
        if message.thread_starter and message.key.startswith("q:"):
            qid = message.key[2:]
            self.latest_threads[qid] = message_id
            self.threads[qid] = message_id
            hint = f"  → /thread {qid} to answer here"
        else:
            hint = ""
        self._print(f"\n[{prefix}]\n{self._render(message)}{hint}")
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
        message_id = self._new_id()
        self._print(
            f"\n[#{channel.channel_id} · thread {thread_id} · reply]\n{self._render(message)}"
        )
        return SentMessage(message_id, channel.channel_id, thread_id)

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        """Show a private message (a repeated key is shown once)."""
        memo = (user_id, idempotency_key) if idempotency_key is not None else None
        if memo is not None and memo in self._dms:
            return self._dms[memo]
        message_id = self._new_id()
        self._print(f"\n[DM to {user_id}]\n{self._render(message)}")
        sent = SentMessage(message_id, f"dm:{user_id}")
        if memo is not None:
            self._dms[memo] = sent
        return sent

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        """Return a private message already shown with this key."""
        return self._dms.get((user_id, idempotency_key))

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Show an edited message."""
        self._print(f"\n[edited {sent.message_id}]\n{self._render(message)}")

    async def withdraw(self, sent: SentMessage) -> None:
        """Say that a message shown earlier is withdrawn (a terminal cannot take it back)."""
        self._print(f"\n[#{sent.channel_id} · message {sent.message_id} withdrawn]")


class LineReader:
    """Reads lines from a file without a thread, so Ctrl-C ends the console at once.

    A thread blocked in `readline()` keeps the process alive until Enter is pressed; watching
    the file descriptor on the event loop can be cancelled instead. Lines that are already
    waiting (a pasted answer of several lines) can be taken together with `take_ready`.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._fd: int | None = None
        self._buffer = b""
        self._lines: deque[str | None] = deque()
        self._arrived = asyncio.Event()
        self._eof = False
        self._closed = False
        try:
            fd = stream.fileno()
            asyncio.get_running_loop().add_reader(fd, self._on_readable, fd)
            self._fd = fd
        except (OSError, ValueError, AttributeError, NotImplementedError, PermissionError):
            self._fd = None  # a regular file or an in-memory stream: it never blocks

    def _on_readable(self, fd: int) -> None:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            if self._buffer:
                self._lines.append(self._buffer.decode("utf-8", "replace"))
                self._buffer = b""
            self._lines.append(None)
            self.close()
        else:
            self._buffer += chunk
            *lines, self._buffer = self._buffer.split(b"\n")
            self._lines.extend(line.decode("utf-8", "replace") + "\n" for line in lines)
        self._arrived.set()

    async def readline(self) -> str:
        """Return the next line with its newline, or '' at end of input."""
        if self._fd is None:
            return self._stream.readline()
        while not self._lines and not self._eof:
            self._arrived.clear()
            await self._arrived.wait()
        if self._eof or self._lines[0] is None:
            self._eof = True
            return ""
        return str(self._lines.popleft())

    def take_ready(self, accept: Callable[[str], bool]) -> list[str]:
        """Return the lines already typed or pasted after this one, while `accept` takes them."""
        if self._fd is None:
            return []
        # A terminal hands over one line per read: fetch what is already waiting.
        while not self._closed and select.select([self._fd], [], [], 0)[0]:
            self._on_readable(self._fd)
            if self._lines and self._lines[-1] is None:
                break
        taken: list[str] = []
        while self._lines and self._lines[0] is not None and accept(str(self._lines[0])):
            taken.append(str(self._lines.popleft()))
        return taken

    def close(self) -> None:
        """Stop watching the file descriptor."""
        if self._fd is not None and not self._closed:
            self._closed = True
            try:
                asyncio.get_running_loop().remove_reader(self._fd)
            except (RuntimeError, ValueError, OSError):
                pass


class ConsoleFace:
    """The read-eval-print loop of the local chat."""

    def __init__(
        self,
        bot: StudyBot,
        *,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        user: str = USER,
        log_note: str | None = None,
    ) -> None:
        self._bot = bot
        self._in = stdin or sys.stdin
        self._out = stdout or sys.stdout
        self._log_note = log_note
        self._ansi = bool(getattr(self._out, "isatty", lambda: False)()) and not os.environ.get(
            "NO_COLOR"
        )
        self.publisher = ConsolePublisher(self._out, ansi=self._ansi)
        self.actor = self._actor_for(user)
        self.thread_question: str | None = None
        bot.add_publisher("console", self.publisher)

    @staticmethod
    def _actor_for(name: str, thread_id: str | None = None) -> Actor:
        return Actor(
            platform="console",
            workspace_id=WORKSPACE,
            channel_id=CHANNEL,
            user_id=name,
            display_name=name,
            # The console's own user owns the machine, so it is the workspace admin; others
            # are plain members unless made cohort admins.
            is_workspace_admin=name == USER,
            thread_id=thread_id,
            channel_name=CHANNEL,
        )

    def say(self, text: str) -> None:
        """Print a line from the bot."""
        self._out.write(text + "\n")
        self._out.flush()

    def show(self, reply: Reply) -> None:
        """Print a command's reply."""
        who = "you" if self.actor.user_id == USER else self.actor.user_id
        label = f"only {who} can see this" if reply.ephemeral else f"#{CHANNEL}"
        body = "\n\n".join(render_text(m, ansi=self._ansi) for m in reply.messages)
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

    @property
    def prompt(self) -> str:
        """Return the prompt: who is typing, and in which thread."""
        where = f"#{CHANNEL}" + (f" › {self.thread_question}" if self.thread_question else "")
        who = "" if self.actor.user_id == USER else f"{self.actor.user_id} "
        return f"{who}{where}> "

    async def handle_line(self, line: str) -> None:
        """Run one typed line: a command, or an answer when inside a thread."""
        text = line.strip()
        if not text:
            return
        try:
            if not text.startswith("/"):
                await self._plain_line(text)
                return
            word = text.split(maxsplit=1)[0].lower()
            rest = text[len(word) :].strip()
            if word == "/thread":
                await self._enter_thread(rest)
                return
            if word == "/back":
                self._leave_thread()
                return
            if word == "/as":
                await self._act_as(rest)
                return
            path, args = parse_command_line(text)
            if path == "help":
                base = help_reply()
                first = base.messages[0]
                self.show(
                    Reply.of(
                        Message(
                            header=first.header,
                            text=first.text,
                            fields=(*first.fields, CONSOLE_HELP),
                            footer=first.footer,
                        )
                    )
                )
                return
            spec = COMMANDS.get(path)
            if spec is not None and spec.slow:
                self.say("grading…" if path == "answer" else "working…")
            # A waiting submission's queue position and progress, one line per change.
            progress = submit_progress.set(lambda line: self.say(f"… {line}"))
            try:
                reply = await dispatch(self._bot, self.actor, path, args)
            finally:
                submit_progress.reset(progress)
        except Exception as exc:
            self.say(f"✗ {user_message_for(exc, context=text)}")
            return
        self.show(reply)

    def _takes_prose(self, line: str) -> bool:
        """Tell whether the line ends in prose that may run on over the next lines."""
        text = line.strip()
        if not text.startswith("/"):
            return self.thread_question is not None
        try:
            path, _ = parse_command_line(text)
        except StudyBotError:
            return False
        spec = COMMANDS.get(path)
        return bool(spec and spec.options and spec.options[-1].type == "text")

    async def _plain_line(self, text: str) -> None:
        if self.thread_question is None:
            self.say(
                "Commands start with /, e.g. /help. To answer a question, enter its thread "
                "with /thread <question id> and type your answer there."
            )
            return
        self.say("grading…")
        reply = None
        if self.actor.thread_id is not None:
            reply = await self._bot.answers.thread_answer(self.actor, text)
        if reply is None:
            reply = await dispatch(
                self._bot, self.actor, "answer", {"id": self.thread_question, "text": text}
            )
        self.show(reply)

    async def _enter_thread(self, ref: str) -> None:
        threads = self.publisher.latest_threads
        if not ref:
            if not threads:
                raise StudyBotError(
                    "No day has been posted in this session yet.",
                    hint="Enter any question's thread with /thread <question id>, e.g. "
                    "/thread E1-001.",
                )
            listing = "\n".join(f"{i}. {qid}" for i, qid in enumerate(threads, 1))
            self.say(f"Questions of the latest post (/thread <number or id>):\n{listing}")
            return
        if ref.isdigit():
            ids = list(threads)
            if not 1 <= int(ref) <= len(ids):
                raise StudyBotError(
                    f"The latest post has {len(ids)} question(s); pick 1 to {len(ids)}.",
                    hint="/thread lists them.",
                )
            qid = ids[int(ref) - 1]
        else:
            from bot.services.answers import normalise_question_id

            qid = normalise_question_id(ref)
            # Show the question first: an unknown id fails here with a clear sentence.
            question = self._bot.daily.compose_question(qid)
            self.say(render_text(question, ansi=self._ansi))
        self.thread_question = qid
        self.actor = self._actor_for(self.actor.user_id, self.publisher.threads.get(qid))
        self.say(f"In the thread of {qid}: type your answer as plain lines; /back leaves.")

    def _leave_thread(self) -> None:
        if self.thread_question is None:
            self.say("You are in #study already.")
            return
        self.say(f"Left the thread of {self.thread_question}.")
        self.thread_question = None
        self.actor = self._actor_for(self.actor.user_id)

    async def _act_as(self, name: str) -> None:
        name = name.strip().lstrip("@")
        if not name or not re.fullmatch(r"[\w.-]{1,40}", name):
            raise StudyBotError("Give a member name: /as bob (letters, digits, . - _).")
        thread = self.publisher.threads.get(self.thread_question or "")
        self.actor = self._actor_for(name, thread if self.thread_question else None)
        if name == USER:
            self.say("Back as yourself (the admin).")
            return
        note = ""
        if await self._bot.cohorts.cohort_for(self.actor) is not None:
            if await self._bot.cohorts.member(self.actor) is None:
                await self._bot.cohorts.join(self.actor)
                note = f" {name} joined the cohort."
        self.say(f"Now acting as {name}, a member without admin rights.{note} /as you returns.")

    def greeting(self) -> str:
        """Return the first lines the console prints."""
        from bot.clock import SystemClock

        now: datetime = self._bot.clock.now()
        clock = "" if isinstance(self._bot.clock, SystemClock) else " (demo clock)"
        lines = [
            f"StudyBot console — {now:%Y-%m-%d %H:%M:%S} UTC{clock}. You are the admin of #study.",
            "Type /help for commands, /today for today's questions, /quit to leave.",
        ]
        if self._log_note:
            lines.append(self._log_note)
        return "\n".join(lines)

    async def run(self, *, greet: bool = True) -> None:
        """Read commands until end of input or /quit."""
        if greet:
            self.say(self.greeting())
        reader = LineReader(self._in)
        interactive = bool(getattr(self._in, "isatty", lambda: False)())
        try:
            while True:
                if interactive:
                    self._out.write(self.prompt)
                    self._out.flush()
                line = await reader.readline()
                if not line:
                    break
                if line.strip().lower() in ("/quit", "/exit"):
                    self.say("Bye.")
                    break
                if self._takes_prose(line):
                    # The rest of a pasted answer: the lines that arrived with this one.
                    line += "".join(reader.take_ready(lambda nxt: not nxt.lstrip().startswith("/")))
                await self.handle_line(line)
        finally:
            reader.close()
