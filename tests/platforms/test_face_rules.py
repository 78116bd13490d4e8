"""Rules every face keeps: splits instead of dropping, one place for errors, no cross imports."""

from __future__ import annotations

import ast
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any
from unittest.mock import create_autospec

import discord
import pytest

from bot import commands as catalogue
from bot.errors import StudyBotError
from bot.messages import Message, MessageField, Reply
from bot.platforms import discord_render, slack_render
from bot.platforms.discord_app import StudyBotDiscord
from bot.platforms.face_plumbing import clip, retry_after_seconds, split_text

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ROOT / "bot" / "platforms"
FACES = ["console", "discord_app", "discord_render", "slack_app", "slack_render"]


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("face", FACES)
def test_a_face_imports_neither_another_face_nor_the_store(face: str) -> None:
    own = {"discord_app": "discord_render", "slack_app": "slack_render"}.get(face)
    others = {f"bot.platforms.{f}" for f in FACES} - {f"bot.platforms.{face}"}
    if own:
        others.discard(f"bot.platforms.{own}")  # a face and its own renderer are one face
    imported = _imported_modules(PLATFORMS / f"{face}.py")
    assert imported & others == set()
    assert {m for m in imported if m == "bot.store" or m.startswith("bot.store.")} == set()


def _calls_by_function(path: Path, callee: str) -> list[str]:
    """Name the functions of a module whose bodies call `callee` (innermost function)."""
    found: list[str] = []

    def visit(node: ast.AST, owner: str) -> None:
        for child in ast.iter_child_nodes(node):
            name = owner
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = child.name
            if isinstance(child, ast.Call):
                func = child.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if called == callee:
                    found.append(owner)
            visit(child, name)

    visit(ast.parse(path.read_text()), "<module>")
    return found


def test_each_face_renders_errors_in_exactly_one_place() -> None:
    discord_app = PLATFORMS / "discord_app.py"
    assert _calls_by_function(discord_app, "user_message_for") == ["error_reply"]
    assert _calls_by_function(discord_app, "error_reply") == ["report_error"]
    slack_app = PLATFORMS / "slack_app.py"
    assert _calls_by_function(slack_app, "user_message_for") == ["on_error"]


def _thread_message(client: StudyBotDiscord, monkeypatch: pytest.MonkeyPatch) -> Any:
    me = create_autospec(discord.ClientUser, instance=True)
    me.id = 1
    monkeypatch.setattr(client._connection, "user", me)
    thread = create_autospec(discord.Thread, instance=True)
    thread.id, thread.parent_id, thread.owner_id = 900, 5000, 1
    message = create_autospec(discord.Message, instance=True)
    message.channel, message.content = thread, "My answer"
    message.author = create_autospec(discord.Member, instance=True)
    message.author.bot, message.author.id, message.author.display_name = False, 6000, "m"
    message.author.guild_permissions = discord.Permissions.none()
    message.guild = create_autospec(discord.Guild, instance=True)
    message.guild.id = 4000
    return message


def _replied_text(message: Any) -> str:
    parts: list[str] = []
    for call in message.reply.await_args_list:
        parts.append(call.kwargs.get("content") or "")
        for embed in call.kwargs.get("embeds") or []:
            parts += [embed.title or "", embed.description or ""]
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (StudyBotError("You are not in this cohort.", hint="Type /cohort join."), "⚠️ You are"),
        (RuntimeError("database password is hunter2"), "error id"),
    ],
)
async def test_a_failed_thread_reply_is_rendered_by_the_shared_error_renderer(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
    shown: str,
) -> None:
    async def failing(bot: Any, actor: Any, text: str) -> Reply | None:
        raise error

    monkeypatch.setattr(catalogue, "thread_reply", failing, raising=False)
    client = StudyBotDiscord(object())  # type: ignore[arg-type]
    try:
        message = _thread_message(client, monkeypatch)
        with caplog.at_level(logging.ERROR):
            await client.on_message(message)
    finally:
        await client.close()
    text = _replied_text(message)
    assert shown in text and "hunter2" not in text
    if isinstance(error, RuntimeError):
        error_id = re.search(r"error id ([0-9a-f]{8})", text)
        assert error_id and error_id.group(1) in caplog.text


# --- long content ---------------------------------------------------------------------------


def _long_grade() -> Message:
    """A grade with 40 rubric points, 10k-character feedback and 10k-character evidence."""
    feedback = " ".join(f"feedback-{i:04d}" for i in range(800))  # ~10,400 characters
    fields = []
    for i in range(40):
        evidence = " ".join(f"ev{i:02d}-{j:04d}" for j in range(900)) if i % 13 == 0 else "short"
        fields.append(MessageField(f"✅ Point {i:02d}: " + "x" * (300 if i == 7 else 20), evidence))
    return Message(header="E1-001: " + "h" * 400, text=feedback, fields=tuple(fields))


def _discord_text(payloads: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for payload in payloads:
        parts.append(payload.get("content") or "")
        for embed in payload.get("embeds") or []:
            parts += [embed.get("title") or "", embed.get("description") or ""]
            parts += [f"{f['name']}\n{f['value']}" for f in embed.get("fields") or []]
    return "\n".join(parts)


def _slack_text(payloads: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for payload in payloads:
        for block in payload["blocks"]:
            if isinstance(block.get("text"), dict):
                parts.append(block["text"]["text"])
            parts += [f["text"] for f in block.get("fields", [])]
    return "\n".join(parts)


def _words(text: str) -> Counter[str]:
    """Count the feedback and evidence words: each must appear exactly as often as it was sent."""
    return Counter(re.findall(r"(?:feedback|ev\d\d)-\d{4}", text))


def _points(text: str) -> set[str]:
    """The rubric points named (a point split over fields repeats its name with "(cont.)")."""
    return set(re.findall(r"Point \d\d", text))


def _sent(message: Message) -> str:
    return message.text + "\n".join(f"{f.name}\n{f.value}" for f in message.fields)


def test_discord_splits_a_forty_point_grade_and_keeps_every_point_and_word() -> None:
    message = _long_grade()
    payloads = discord_render.render_reply(Reply.of(message))
    assert len(payloads) > 1
    for payload in payloads:
        assert discord_render.limit_violations(payload) == []
    text = _discord_text(payloads)
    assert _words(text) == _words(_sent(message))
    assert _points(text) == {f"Point {i:02d}" for i in range(40)}


def test_slack_splits_a_forty_point_grade_and_keeps_every_point_and_word() -> None:
    message = _long_grade()
    posted = slack_render.render_message(message)
    replied = slack_render.render_reply(Reply.of(message))
    for payloads in (posted, replied):
        assert len(payloads) > 1
        for payload in payloads:
            assert slack_render.payload_problems(payload) == []
        text = _slack_text(payloads)
        assert _words(text) == _words(_sent(message))
        assert _points(text) == {f"Point {i:02d}" for i in range(40)}


# --- the shared plumbing ------------------------------------------------------------------------


def test_split_text_never_loses_a_character_that_is_not_a_break() -> None:
    text = "para one\n\n" + "word " * 900 + "\n" + "z" * 7000
    chunks = split_text(text, 1024)
    assert all(0 < len(c) <= 1024 for c in chunks)
    assert "".join(chunks).replace(" ", "").replace("\n", "") == text.replace(" ", "").replace(
        "\n", ""
    )


def test_clip_marks_the_cut() -> None:
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"Retry-After": "-2"}, 0.0),
        ({"Retry-After": "soon"}, 1.0),
        ({}, 1.0),
        (None, 1.0),
    ],
)
def test_retry_after_reads_seconds_or_falls_back(
    headers: dict[str, str] | None, expected: float
) -> None:
    assert retry_after_seconds(headers, default=1.0) == expected
