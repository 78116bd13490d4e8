"""What every chat face does the same way: fitting text, reading a command line, naming a member.

Discord and Slack differ in how they deliver a request and draw a reply; they do not differ in
how text is cut to a limit, how a typed command line becomes options, which options a command
line left out (asked for in a form), how a Retry-After header reads, or what an `Actor` is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commands import Command, Option
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
    """Return the required free-text options a command line left out (asked for in a form).

    A file option a platform cannot attach to a command (Slack) is asked for as a code field.
    """
    return [
        o
        for o in spec.options
        if o.required and o.type in ("text", "file") and not args.get(o.name)
    ]


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
