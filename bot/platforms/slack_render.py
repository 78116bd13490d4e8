"""Render platform-neutral messages as Slack Block Kit payloads, within Slack's limits.

`render_post` returns exactly the `chat.postMessage` bodies the Slack face sends for a post
(the publisher adds only the channel, thread and metadata). A message that does not fit one
Slack message is split between blocks, never inside one: services give each question its own
message, so a question is never cut in half.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from bot.commands import COMMANDS
from bot.messages import Button, Message, MessageField, Reply
from bot.platforms.face_plumbing import clip, split_text

__all__ = ["clip", "split_text", "render_message", "render_post", "render_reply", "slack_commands"]

SLASH_COMMAND = "/study"

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_TEXT = 3000
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
# Slack accepts far longer fallback text, but it is what notifications and screen readers show.
MAX_FALLBACK_TEXT = 3000

Block = dict[str, Any]
Payload = dict[str, Any]

_TONE_MARK = {
    "info": "",
    "success": ":white_check_mark: ",
    "warning": ":warning: ",
    "error": ":x: ",
}
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack reserves for its own markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_command_pattern: tuple[frozenset[str], re.Pattern[str]] | None = None


def _commands_pattern() -> re.Pattern[str]:
    # Built from the catalogue as it is now, so a command added later is rewritten too.
    global _command_pattern
    names = frozenset(COMMANDS) | {spec.group for spec in COMMANDS.values() if spec.group}
    if _command_pattern is None or _command_pattern[0] != names:
        alternatives = "|".join(
            re.escape(name).replace(r"\ ", r"\s+") for name in sorted(names, key=len, reverse=True)
        )
        pattern = re.compile(rf"(?<![\w/.:@#-])/(?:{alternatives})(?![\w/-])")
        _command_pattern = (names, pattern)
    return _command_pattern[1]


def slack_commands(text: str) -> str:
    """Name every catalogue command as a Slack member types it: `/today` -> `/study today`.

    In Slack every command is a word after the one slash command the app owns; a bare `/me`
    would even run Slack's own `/me` and post the rest publicly.
    """
    if "/" not in text:
        return text
    return _commands_pattern().sub(lambda m: f"{SLASH_COMMAND} {m.group(0)[1:]}", text)


def to_mrkdwn(text: str) -> str:
    """Convert the model's Markdown (**bold**, [label](url), `code`) to Slack mrkdwn."""
    out = escape_mrkdwn(slack_commands(text))
    out = _BOLD.sub(r"*\1*", out)
    return _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", out)


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _sections(text: str) -> list[Block]:
    return [_section(piece) for piece in split_text(text, MAX_SECTION_TEXT)]


def _field_blocks(fields: Sequence[MessageField]) -> list[Block]:
    blocks: list[Block] = []
    inline: list[str] = []

    def flush() -> None:
        for start in range(0, len(inline), MAX_SECTION_FIELDS):
            chunk = inline[start : start + MAX_SECTION_FIELDS]
            blocks.append(
                {"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in chunk]}
            )
        inline.clear()

    for field in fields:
        # A field's name is drawn bold already; Markdown bold inside it would double the stars.
        plain_name = _BOLD.sub(r"\1", escape_mrkdwn(slack_commands(field.name)))
        name = f"*{plain_name}*"
        value = to_mrkdwn(field.value)
        text = f"{name}\n{value}" if value else name
        if field.inline and len(text) <= MAX_FIELD_TEXT:
            inline.append(text)
            continue
        flush()
        pieces = split_text(value, MAX_SECTION_TEXT - len(name) - 12)
        for index, piece in enumerate(pieces):
            label = name if index == 0 else f"{name} (cont.)"
            blocks.append(_section(f"{label}\n{piece}"))
    flush()
    return blocks


def _code_blocks(code: str) -> list[Block]:
    # The fence takes 8 characters; pieces split at line breaks keep each block valid on its own.
    return [
        _section(f"```\n{escape_mrkdwn(piece)}\n```")
        for piece in split_text(code, MAX_SECTION_TEXT - 8)
    ]


def _button(button: Button) -> Block:
    element: Block = {
        "type": "button",
        "text": {
            "type": "plain_text",
            "text": clip(slack_commands(button.label), MAX_BUTTON_TEXT),
            "emoji": True,
        },
        "action_id": button.action_id[:255],
    }
    if button.value:
        element["value"] = button.value[:MAX_BUTTON_VALUE]
    if button.url:
        element["url"] = button.url
    if button.style != "secondary":
        element["style"] = button.style
    return element


def _action_blocks(buttons: Sequence[Button]) -> list[Block]:
    return [
        {
            "type": "actions",
            "elements": [_button(b) for b in buttons[start : start + MAX_ACTIONS_ELEMENTS]],
        }
        for start in range(0, len(buttons), MAX_ACTIONS_ELEMENTS)
    ]


def _context(text: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(text, MAX_CONTEXT_TEXT)}],
    }


def message_blocks(message: Message) -> list[Block]:
    """Return every block of one message, each within Slack's per-block limits."""
    blocks: list[Block] = []
    if message.header:
        header = slack_commands(" ".join(message.header.split()))
        blocks.append(
            {
                "type": "header",
                "text": {
                    "type": "plain_text",
                    "text": clip(header, MAX_HEADER_TEXT),
                    "emoji": True,
                },
            }
        )
    if message.text:
        blocks.extend(_sections(_TONE_MARK[message.tone] + to_mrkdwn(message.text)))
    elif message.tone != "info" and not message.header:
        blocks.append(_section(_TONE_MARK[message.tone].strip()))
    blocks.extend(_field_blocks(message.fields))
    if message.code:
        blocks.extend(_code_blocks(message.code))
    if message.image:
        # The picture itself is uploaded beside the message (files_upload_v2) with its alt
        # text; the message only says it comes, without repeating a long alt text.
        alt = message.image.alt_text
        said = f" — {alt}" if alt and alt != message.text and len(alt) <= 200 else ""
        blocks.append(
            _context(f":frame_with_picture: {escape_mrkdwn(message.image.filename)}{said}")
        )
    blocks.extend(_action_blocks(message.buttons))
    if message.footer:
        blocks.append(_context(to_mrkdwn(message.footer)))
    return blocks


def fallback_text(message: Message) -> str:
    """Return the plain text shown in notifications and to clients that cannot draw blocks."""
    parts = [p for p in (message.header, message.text) if p]
    if not parts:
        parts = [f.name for f in message.fields] or ["StudyBot"]
    return clip(to_mrkdwn(" — ".join(parts)), MAX_FALLBACK_TEXT)


def _chunks(blocks: list[Block], size: int) -> Iterator[list[Block]]:
    for start in range(0, len(blocks), size):
        yield blocks[start : start + size]


def render_message(message: Message) -> list[Payload]:
    """Return the chat.postMessage bodies for one message: one, or more when it is too long."""
    blocks = message_blocks(message) or [_section(fallback_text(message))]
    text = fallback_text(message)
    parts = list(_chunks(blocks, MAX_BLOCKS))
    payloads: list[Payload] = []
    for index, chunk in enumerate(parts):
        suffix = f" ({index + 1}/{len(parts)})" if index else ""
        label = clip(text, MAX_FALLBACK_TEXT - len(suffix)) + suffix
        payloads.append(
            {"text": label, "blocks": chunk, "unfurl_links": False, "unfurl_media": False}
        )
    return payloads


def render_post(messages: Iterable[Message]) -> list[Payload]:
    """Return exactly the chat.postMessage bodies a post of these messages sends, in order."""
    return [payload for message in messages for payload in render_message(message)]


def render_reply(reply: Reply) -> list[Payload]:
    """Return the response bodies of a command reply, packing its messages into few payloads.

    A reply goes through the command's response_url, which Slack honours only five times, so
    messages share payloads (divided by a rule) as long as a message's blocks stay together.
    """
    response_type = "ephemeral" if reply.ephemeral else "in_channel"
    payloads: list[Payload] = []
    blocks: list[Block] = []
    texts: list[str] = []

    def flush() -> None:
        if blocks:
            text = clip("\n".join(texts), MAX_FALLBACK_TEXT)
            payloads.append({"response_type": response_type, "text": text, "blocks": list(blocks)})
        blocks.clear()
        texts.clear()

    for message in reply.messages:
        own = message_blocks(message) or [_section(fallback_text(message))]
        needed = len(own) + (1 if blocks else 0)
        if blocks and len(blocks) + needed > MAX_BLOCKS:
            flush()
        if len(own) > MAX_BLOCKS:
            for chunk in _chunks(own, MAX_BLOCKS):
                blocks.extend(chunk)
                texts.append(fallback_text(message))
                flush()
            continue
        if blocks:
            blocks.append({"type": "divider"})
        blocks.extend(own)
        texts.append(fallback_text(message))
    flush()
    if not payloads:
        payloads.append({"response_type": response_type, "text": "Done.", "blocks": []})
    return payloads


def payload_problems(payload: Payload) -> list[str]:
    """List every way a payload breaks Slack's limits (empty when it is valid)."""
    problems: list[str] = []
    blocks = payload.get("blocks", [])
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {MAX_BLOCKS}")
    text = payload.get("text", "")
    if not text or len(text) > MAX_FALLBACK_TEXT:
        problems.append(f"fallback text length {len(text)}")
    for index, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {index} ({kind})"
        if kind == "header":
            body = block["text"]["text"]
            if block["text"]["type"] != "plain_text" or not 0 < len(body) <= MAX_HEADER_TEXT:
                problems.append(f"{where}: header text length {len(body)}")
        elif kind == "section":
            if "text" in block and not 0 < len(block["text"]["text"]) <= MAX_SECTION_TEXT:
                problems.append(f"{where}: section text length {len(block['text']['text'])}")
            fields = block.get("fields", [])
            if len(fields) > MAX_SECTION_FIELDS:
                problems.append(f"{where}: {len(fields)} fields")
            problems.extend(
                f"{where}: field length {len(f['text'])}"
                for f in fields
                if not 0 < len(f["text"]) <= MAX_FIELD_TEXT
            )
            if "text" not in block and not fields:
                problems.append(f"{where}: empty section")
        elif kind == "context":
            problems.extend(
                f"{where}: context text length {len(e['text'])}"
                for e in block["elements"]
                if len(e.get("text", "")) > MAX_CONTEXT_TEXT
            )
        elif kind == "actions":
            elements = block["elements"]
            if len(elements) > MAX_ACTIONS_ELEMENTS:
                problems.append(f"{where}: {len(elements)} elements")
            problems.extend(
                f"{where}: button label length {len(e['text']['text'])}"
                for e in elements
                if len(e["text"]["text"]) > MAX_BUTTON_TEXT
            )
    return problems
