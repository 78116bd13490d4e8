"""What every chat face does the same way: fitting text, reading a command line, naming a member.

Discord and Slack differ in how they deliver a request and draw a reply; they do not differ in
how text is cut to a limit, how a typed command line becomes options, which options a command
line left out (asked for in a form), how a Retry-After header reads, or what an `Actor` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands import COMMANDS, Command, Option
from bot.errors import StudyBotError
from bot.messages import Platform
from bot.services.context import Actor

# What a member sees above a form field, where the option's own name would read as jargon.
_OPTION_LABELS = {
    "id": "Question",
    "text": "Your answer",
    "points": "Rubric points",
    "reason": "Reason",
    "zone": "Time zone",
}


def clip(text: str, limit: int) -> str:
    """Shorten text to at most `limit` characters, marking the cut with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def split_text(text: str, limit: int) -> list[str]:
    """Split text into chunks within the limit at the largest boundary that works.

    Paragraphs stay whole when they fit, then lines, then words; only a single word longer
    than the limit is cut. Nothing is dropped: the chunks hold every non-blank character.
    """
    if len(text) <= limit:
        return [text]
    for separator in ("\n\n", "\n", " "):
        parts = text.split(separator)
        if len(parts) == 1:
            continue
        chunks: list[str] = []
        current = ""
        for part in parts:
            candidate = f"{current}{separator}{part}" if current else part
            if len(candidate) <= limit:
                current = candidate
                continue
            if current:
                chunks.append(current)
            if len(part) <= limit:
                current = part
            else:
                pieces = split_text(part, limit)
                chunks.extend(pieces[:-1])
                current = pieces[-1]
        if current:
            chunks.append(current)
        return [chunk for chunk in chunks if chunk.strip()] or [text[:limit]]
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def retry_after_seconds(
    headers: Mapping[str, Any] | None, *, default: float | None
) -> float | None:
    """Read a Retry-After header in seconds (never negative); `default` when absent or bad."""
    if not headers:
        return default
    raw = headers.get("Retry-After")
    if raw is None:
        raw = headers.get("retry-after")
    if raw is None:
        return default
    try:
        return max(0.0, float(raw))
    except (TypeError, ValueError):
        return default


def option_label(option: Option) -> str:
    """Return the label a form shows above an option's field."""
    return _OPTION_LABELS.get(option.name) or option.name.replace("_", " ").capitalize()


def missing_text_options(spec: Command, args: Mapping[str, Any]) -> list[Option]:
    """Return the required free-text options a command line left out (asked for in a form)."""
    return [o for o in spec.options if o.required and o.type == "text" and not args.get(o.name)]


def member_actor(
    platform: Platform,
    *,
    workspace_id: str,
    channel_id: str,
    user_id: str,
    display_name: str = "",
    is_workspace_admin: bool = False,
    thread_id: str | None = None,
) -> Actor:
    """Describe the member behind a request, with the name the platform shows for them."""
    return Actor(
        platform=platform,
        workspace_id=str(workspace_id),
        channel_id=str(channel_id),
        user_id=str(user_id),
        display_name=display_name.strip(),
        is_workspace_admin=is_workspace_admin,
        thread_id=thread_id,
    )


# --- the typed command line ------------------------------------------------------------------
# The command-line reader belongs with the catalogue in bot/commands.py; it lives here until the
# catalogue has one that keeps free text verbatim, and both faces import it from this module.


def _next_word(line: str, start: int) -> tuple[str, int] | None:
    """Read one word from `start` (quotes group words); None at the end of the line."""
    n = len(line)
    i = start
    while i < n and line[i].isspace():
        i += 1
    if i >= n:
        return None
    out: list[str] = []
    while i < n and not line[i].isspace():
        ch = line[i]
        if ch in "\"'“”‘’":
            close = {"“": "”", "‘": "’"}.get(ch, ch)
            end = line.find(close, i + 1)
            if end < 0:
                raise StudyBotError(
                    "Could not read that command: a quotation mark is not closed.",
                    hint="Close the quote, or leave quotes out of single words.",
                )
            out.append(line[i + 1 : end])
            i = end + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), i


def split_command_line(line: str) -> tuple[str, dict[str, Any]]:
    """Split '/cohort setup timezone=Europe/Berlin' into a command path and its options.

    Words fill the options in order (or by `name=value`); a free-text option - an answer, a
    reason - takes the rest of the line exactly as typed, with its quotes, backslashes, line
    breaks and any `name=` inside it.
    """
    text = line.strip()
    if text.startswith("/"):
        text = text[1:]
    first = _next_word(text, 0)
    if first is None:
        raise StudyBotError("Type a command, e.g. /help.")
    path, pos = first
    second = _next_word(text, pos)
    if second is not None and f"{path} {second[0]}" in COMMANDS:
        path, pos = f"{path} {second[0]}", second[1]
    spec = COMMANDS.get(path)
    args: dict[str, Any] = {}
    if spec is None:
        return path, args
    by_name = {o.name: o for o in spec.options}
    while True:
        rest = text[pos:]
        stripped = rest.strip()
        if not stripped:
            break
        pending = [o for o in spec.options if o.name not in args]
        if not pending:
            raise StudyBotError(
                f"Too many values for /{path}: {clip(stripped, 80)}.",
                hint=f"Usage: {spec.usage()}",
            )
        at = pos + len(rest) - len(rest.lstrip())
        name, sep, _ = stripped.split(maxsplit=1)[0].partition("=")
        if sep and name in by_name and name not in args:
            value_at = at + len(name) + 1
            if by_name[name].type == "text":
                # `text=` names the option; everything after the '=' is the text, verbatim.
                args[name] = text[value_at:].strip()
                break
            if value_at >= len(text) or text[value_at].isspace():
                args[name] = ""
                pos = value_at
                continue
            word = _next_word(text, value_at)
            assert word is not None
            args[name], pos = word
            continue
        target = pending[0]
        if target.type == "text":
            args[target.name] = stripped
            break
        word = _next_word(text, at)
        assert word is not None
        raw, end = word
        if len(pending) == 1 and text[end:].strip():
            args[target.name] = stripped  # the last option takes the rest of the line
            break
        args[target.name] = raw
        pos = end
    return path, args
