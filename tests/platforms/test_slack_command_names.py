"""Every command a Slack member reads is named as they type it: `/study today`, never `/today`.

The catalogue, services and error texts name commands canonically (`/today`, `/me timezone`);
only the Slack renderer rewrites them. These tests render every help text, usage hint, error,
day post and footer for Slack and look for a command that would not run there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from bot.commands import COMMANDS, coerce_args, help_reply
from bot.errors import StudyBotError
from bot.messages import Message, MessageField, Reply
from bot.platforms.discord_render import render_reply as render_discord_reply
from bot.platforms.slack_render import render_message, render_reply, slack_commands

ROOT = Path(__file__).resolve().parents[2]
# Modules whose texts members read (replies, hints, footers, notices).
TEXT_SOURCES = [
    "bot/commands.py",
    "bot/errors.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "bot" / "services").glob("*.py")),
]


def bare_commands(text: str) -> list[str]:
    """Return every catalogue command in a text that is not written as `/study ...`."""
    names = set(COMMANDS) | {spec.group for spec in COMMANDS.values() if spec.group}
    alternatives = "|".join(
        re.escape(n).replace(r"\ ", r"\s+") for n in sorted(names, key=len, reverse=True)
    )
    pattern = re.compile(rf"(?<![\w/.:@#-])/(?:{alternatives})(?![\w/-])")
    return [m.group(0) for m in pattern.finditer(text)]


def _all_text(payloads: list[dict[str, Any]]) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("value", "action_id", "url"):
                    continue  # routing data a member never reads
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            out.append(node)

    walk(payloads)
    return "\n".join(out)


def _slack(reply: Reply) -> str:
    return (
        _all_text(render_reply(reply))
        + "\n"
        + _all_text([p for m in reply.messages for p in render_message(m)])
    )


def _source_texts() -> list[str]:
    """Every string literal (and literal part of an f-string) that names a command."""
    texts: list[str] = []
    for relative in TEXT_SOURCES:
        tree = ast.parse((ROOT / relative).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "/" in node.value:
                texts.append(node.value)
    return texts


def test_the_checker_finds_bare_commands() -> None:
    text = "Type /help, then /cohort setup or /me timezone Asia/Tokyo (see https://x.io/today)"
    assert bare_commands(text) == ["/help", "/cohort setup", "/me timezone"]
    assert bare_commands(slack_commands(text)) == []
    assert slack_commands("/study today and /todays") == "/study today and /todays"


def test_every_text_in_the_source_names_commands_the_slack_way_once_rendered() -> None:
    texts = [t for t in _source_texts() if bare_commands(t)]
    assert len(texts) >= 8  # the hints, footers and replies that name a command
    for text in texts:
        rendered = _slack(Reply.of(Message(header=text[:100], text=text, footer=text)))
        assert bare_commands(rendered) == [], text


def test_help_usage_and_every_command_error_render_for_slack() -> None:
    replies = [help_reply()]
    replies += [help_reply(group=g) for g in {s.group for s in COMMANDS.values() if s.group}]
    for spec in COMMANDS.values():
        for raw in ({}, {"no_such_option": "x"}):
            try:
                coerce_args(spec, raw)
            except StudyBotError as exc:
                replies.append(Reply.text(str(exc), tone="error"))
    replies.append(
        Reply.text(str(StudyBotError("Unknown command /x.", hint="Type /help for the list.")))
    )
    assert len(replies) > len(COMMANDS)
    for reply in replies:
        discord = _all_text(render_discord_reply(reply))
        slack = _slack(reply)
        assert bare_commands(slack) == [], slack
        # Discord keeps the canonical names; only the Slack face rewrites them.
        if "/" in discord and bare_commands(discord):
            assert "/study" not in discord


@pytest.fixture(scope="module")
def library() -> Any:
    from content import load_library

    return load_library()


def test_every_day_post_summary_and_footer_names_commands_the_slack_way(library: Any) -> None:
    from bot.services.answers import render_grade
    from bot.services.daily import compose_day, compose_day_summary

    seen_footer = False
    for day in range(1, library.days_total + 1):
        plan = library.day(day)
        messages = [*compose_day(plan), compose_day_summary(plan)]
        seen_footer = seen_footer or any(bare_commands(m.footer or "") for m in messages)
        rendered = _slack(Reply.of(*messages))
        assert bare_commands(rendered) == [], day
    assert seen_footer  # the canonical footers do name commands
    grade = render_grade("E1-001", None, best=None, notices=["See /today, or /help."])
    assert bare_commands(_slack(Reply.of(grade))) == []


def test_notification_text_turns_markdown_bold_into_slack_bold() -> None:
    message = Message(
        header="Day 3",
        text="**Interview questions** and /today",
        fields=(MessageField("**Track**", "x"),),
    )
    [payload] = render_message(message)
    assert payload["text"] == "Day 3 — *Interview questions* and /study today"
    assert "**" not in _all_text([payload])
