"""Render platform-neutral messages as Discord message payloads, within Discord's limits.

One `Message` becomes one Discord message when it fits, else several; a split never falls
inside a line of a field or inside a paragraph when a larger boundary exists, so a question (a
thread starter's text, or a bullet line of the plan) is never cut in half. Payloads are the
dicts discord.py sends: `content`, `embeds` (`discord.Embed.to_dict()`), `attachments`,
`components`, and `flags` for ephemeral replies.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import discord

from bot.messages import Button, Image, Message, MessageField, Reply, Tone
from bot.platforms.face_plumbing import clip as truncate
from bot.platforms.face_plumbing import split_text

__all__ = [
    "render_message",
    "render_messages",
    "render_post",
    "render_reply",
    "split_text",
    "truncate",
]

TITLE_LIMIT = 256
DESCRIPTION_LIMIT = 4096
FIELDS_LIMIT = 25
FIELD_NAME_LIMIT = 256
FIELD_VALUE_LIMIT = 1024
FOOTER_LIMIT = 2048
EMBED_TOTAL_LIMIT = 6000  # Discord counts this across all embeds of one message
EMBEDS_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
THREAD_NAME_LIMIT = 100
BUTTON_LABEL_LIMIT = 80
CUSTOM_ID_LIMIT = 100
BUTTONS_PER_ROW = 5
ROWS_PER_MESSAGE = 5
EPHEMERAL_FLAG = 1 << 6

TONE_COLOURS: dict[Tone, int] = {
    "info": 0x5865F2,
    "success": 0x57F287,
    "warning": 0xFEE75C,
    "error": 0xED4245,
}
_TONE_MARK: dict[Tone, str] = {"info": "", "success": "✅ ", "warning": "⚠️ ", "error": "❌ "}
_BUTTON_STYLES = {"primary": 1, "secondary": 2, "danger": 4}
_LINK_STYLE = 5
_BLANK = "\u200b"  # Discord rejects empty field names and values
_CONT = " (cont.)"


@dataclass
class DiscordMessage:
    """One Discord message ready to send: content, embeds, an image and buttons."""

    content: str | None = None
    embeds: list[discord.Embed] = field(default_factory=list)
    image: Image | None = None
    buttons: tuple[Button, ...] = ()

    def file(self) -> discord.File | None:
        """Return the image as an upload, if the message has one."""
        if self.image is None:
            return None
        return discord.File(
            io.BytesIO(self.image.data),
            filename=self.image.filename,
            description=self.image.alt_text or None,
        )

    def payload(self) -> dict[str, Any]:
        """Return the JSON body discord.py sends for this message."""
        body: dict[str, Any] = {
            "content": self.content,
            "embeds": [embed.to_dict() for embed in self.embeds],
        }
        if self.image is not None:
            attachment: dict[str, Any] = {"id": 0, "filename": self.image.filename}
            if self.image.alt_text:
                attachment["description"] = self.image.alt_text
            body["attachments"] = [attachment]
        if self.buttons:
            body["components"] = button_rows(self.buttons)
        return body


def thread_name(message: Message) -> str:
    """Return the name of the thread a thread-starter message opens (1-100 characters)."""
    name = message.thread_title or message.header or message.text or "Discussion"
    name = " ".join(name.split())
    return truncate(name, THREAD_NAME_LIMIT) or "Discussion"


def button_rows(buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """Return buttons as Discord action rows (5 per row, 5 rows at most)."""
    components: list[dict[str, Any]] = []
    for button in buttons[: BUTTONS_PER_ROW * ROWS_PER_MESSAGE]:
        item: dict[str, Any] = {"type": 2, "label": truncate(button.label, BUTTON_LABEL_LIMIT)}
        if button.url:
            item.update(style=_LINK_STYLE, url=button.url)
        else:
            item.update(style=_BUTTON_STYLES[button.style], custom_id=custom_id(button))
        if not components or len(components[-1]["components"]) == BUTTONS_PER_ROW:
            components.append({"type": 1, "components": []})
        components[-1]["components"].append(item)
    return components


def custom_id(button: Button) -> str:
    """Return the id a click on this button comes back with."""
    return f"studybot:{button.action_id}:{button.value}"[:CUSTOM_ID_LIMIT]


def embed_size(embed: discord.Embed) -> int:
    """Count the characters Discord counts towards its per-message embed total."""
    size = len(embed.title or "") + len(embed.description or "")
    size += sum(len(f.name or "") + len(f.value or "") for f in embed.fields)
    size += len(embed.footer.text or "") + len(embed.author.name or "")
    return size


def _is_plain(message: Message) -> bool:
    return not (message.header or message.fields or message.code or message.image or message.footer)


def _field_chunks(fld: MessageField) -> list[tuple[str, str, bool]]:
    name = truncate(fld.name.strip() or _BLANK, FIELD_NAME_LIMIT)
    values = split_text(fld.value.strip() or "—", FIELD_VALUE_LIMIT)
    out = [(name, values[0], fld.inline)]
    cont = truncate(fld.name.strip() + _CONT, FIELD_NAME_LIMIT) if fld.name.strip() else _BLANK
    out.extend((cont, value, fld.inline) for value in values[1:])
    return out


def _code_chunks(code: str, language: str) -> list[str]:
    # A fence inside the code would close the block early; a zero-width space defuses it.
    body = code.replace("```", "`\u200b``")
    opening, closing = f"```{language}\n", "\n```"
    room = DESCRIPTION_LIMIT - len(opening) - len(closing)
    return [f"{opening}{chunk}{closing}" for chunk in split_text(body, room)]


def _build_embeds(message: Message) -> list[discord.Embed]:
    colour = TONE_COLOURS[message.tone]
    embeds: list[discord.Embed] = []
    current = discord.Embed(colour=colour)
    if message.header:
        current.title = truncate(message.header, TITLE_LIMIT)

    def fresh() -> discord.Embed:
        nonlocal current
        embeds.append(current)
        current = discord.Embed(colour=colour)
        return current

    def add_description(text: str) -> None:
        if (
            current.description
            or current.fields
            or embed_size(current) + len(text) > (EMBED_TOTAL_LIMIT)
        ):
            fresh()
        current.description = text

    for chunk in split_text(message.text, DESCRIPTION_LIMIT) if message.text.strip() else []:
        add_description(chunk)
    for fld in message.fields:
        for name, value, inline in _field_chunks(fld):
            if (
                len(current.fields) >= FIELDS_LIMIT
                or embed_size(current) + len(name) + len(value) > EMBED_TOTAL_LIMIT
            ):
                fresh()
            current.add_field(name=name, value=value, inline=inline)
    if message.code:
        for chunk in _code_chunks(message.code, message.code_language):
            add_description(chunk)
    if message.footer:
        footer = truncate(message.footer, FOOTER_LIMIT)
        if embed_size(current) + len(footer) > EMBED_TOTAL_LIMIT:
            fresh()
        current.set_footer(text=footer)
    embeds.append(current)
    embeds = [e for e in embeds if embed_size(e) or e.image.url]
    if message.image and embeds:
        embeds[0].set_image(url=f"attachment://{message.image.filename}")
    return embeds or [discord.Embed(colour=colour, description=_BLANK)]


def render_message(message: Message) -> list[DiscordMessage]:
    """Render one message as the Discord messages that carry it, in order."""
    if _is_plain(message):
        text = _TONE_MARK[message.tone] + message.text if message.text.strip() else _BLANK
        out = [DiscordMessage(content=chunk) for chunk in split_text(text, CONTENT_LIMIT)]
    else:
        out = []
        current: list[discord.Embed] = []
        total = 0
        for embed in _build_embeds(message):
            size = embed_size(embed)
            if current and (len(current) >= EMBEDS_PER_MESSAGE or total + size > EMBED_TOTAL_LIMIT):
                out.append(DiscordMessage(embeds=current))
                current, total = [], 0
            current.append(embed)
            total += size
        out.append(DiscordMessage(embeds=current))
        out[0].image = message.image
    out[-1].buttons = message.buttons
    return out


def render_messages(messages: Iterable[Message]) -> list[DiscordMessage]:
    """Render several messages, each starting its own Discord message."""
    return [part for message in messages for part in render_message(message)]


def render_post(messages: Iterable[Message]) -> list[dict[str, Any]]:
    """Return exactly the message payloads a post of these messages sends, in order."""
    return [part.payload() for part in render_messages(messages)]


def render_reply(reply: Reply) -> list[dict[str, Any]]:
    """Return the payloads of a command reply; ephemeral ones carry Discord's ephemeral flag."""
    payloads = render_post(reply.messages)
    if reply.ephemeral:
        for payload in payloads:
            payload["flags"] = EPHEMERAL_FLAG
    return payloads


def limit_violations(payload: dict[str, Any]) -> list[str]:
    """List every Discord limit a message payload breaks (empty when it is valid)."""
    problems: list[str] = []
    content = payload.get("content")
    embeds: list[dict[str, Any]] = payload.get("embeds") or []
    if content is not None and not 1 <= len(content) <= CONTENT_LIMIT:
        problems.append(f"content has {len(content)} characters (1-{CONTENT_LIMIT})")
    if not content and not embeds:
        problems.append("message has neither content nor embeds")
    if len(embeds) > EMBEDS_PER_MESSAGE:
        problems.append(f"{len(embeds)} embeds (max {EMBEDS_PER_MESSAGE})")
    total = 0
    for index, embed in enumerate(embeds):
        title = embed.get("title") or ""
        description = embed.get("description") or ""
        fields = embed.get("fields") or []
        footer = (embed.get("footer") or {}).get("text") or ""
        if len(title) > TITLE_LIMIT:
            problems.append(f"embed {index}: title {len(title)} > {TITLE_LIMIT}")
        if len(description) > DESCRIPTION_LIMIT:
            problems.append(f"embed {index}: description {len(description)} > {DESCRIPTION_LIMIT}")
        if len(fields) > FIELDS_LIMIT:
            problems.append(f"embed {index}: {len(fields)} fields > {FIELDS_LIMIT}")
        if len(footer) > FOOTER_LIMIT:
            problems.append(f"embed {index}: footer {len(footer)} > {FOOTER_LIMIT}")
        size = len(title) + len(description) + len(footer)
        for number, fld in enumerate(fields):
            name, value = fld.get("name") or "", fld.get("value") or ""
            if not 1 <= len(name) <= FIELD_NAME_LIMIT:
                problems.append(f"embed {index} field {number}: name {len(name)} characters")
            if not 1 <= len(value) <= FIELD_VALUE_LIMIT:
                problems.append(f"embed {index} field {number}: value {len(value)} characters")
            size += len(name) + len(value)
        if size > EMBED_TOTAL_LIMIT:
            problems.append(f"embed {index}: {size} characters > {EMBED_TOTAL_LIMIT}")
        total += size
    if total > EMBED_TOTAL_LIMIT:
        problems.append(f"embeds total {total} characters > {EMBED_TOTAL_LIMIT}")
    rows = payload.get("components") or []
    if len(rows) > ROWS_PER_MESSAGE:
        problems.append(f"{len(rows)} component rows > {ROWS_PER_MESSAGE}")
    for row in rows:
        if len(row.get("components", [])) > BUTTONS_PER_ROW:
            problems.append(f"a row has more than {BUTTONS_PER_ROW} buttons")
    return problems
