"""No help text, hint, footer or error names a command that does not exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.commands import COMMANDS, GROUP_DESCRIPTIONS, help_reply
from bot.platforms.console import render_text
from bot.services.daily import compose_day, compose_day_summary

ROOT = Path(__file__).resolve().parents[2]
MENTION = re.compile(r"(?:^|[\s`(“\"'])/([a-z][a-z_]*)(?: ([a-z][a-z_]*))?\b(?!/)")
CONSOLE_ONLY = {"thread", "back", "as", "quit", "exit"}
PLATFORM_BUILT_INS = {"invite"}  # Slack's own, named when the bot must be invited
SLACK_ENTRY = {"study"}  # Slack's one command; its subcommands are the catalogue's


def unknown_mentions(text: str) -> list[str]:
    """Return each `/command` in the text that is not a real command."""
    bad = []
    for first, second in MENTION.findall(text):
        if first in CONSOLE_ONLY | PLATFORM_BUILT_INS | SLACK_ENTRY:
            continue
        if first in GROUP_DESCRIPTIONS:
            if second and f"{first} {second}" not in COMMANDS:
                bad.append(f"/{first} {second}")
            continue
        if first not in COMMANDS:
            bad.append(f"/{first}")
    return bad


def user_facing_strings(path: Path) -> list[str]:
    """Every string literal in a module except docstrings."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in docstrings
    ]


def test_the_scanner_catches_a_missing_command() -> None:
    assert unknown_mentions("Practise it: /sumbit softmax") == ["/sumbit"]
    assert unknown_mentions("see /cohort frobnicate") == ["/cohort frobnicate"]
    assert unknown_mentions("see /cohort status and `/answer E1-001`, /slack/events") == []


def test_no_string_in_the_bot_names_a_missing_command() -> None:
    found = {
        f"{path.relative_to(ROOT)}: {mention}"
        for path in sorted((ROOT / "bot").rglob("*.py"))
        for text in user_facing_strings(path)
        for mention in unknown_mentions(text)
    }
    assert not found, sorted(found)


def test_every_day_post_and_the_help_name_only_real_commands() -> None:
    from content import load_library

    library = load_library()
    texts = [render_text(m) for m in help_reply().messages]
    for day in range(1, library.days_total + 1):
        plan = library.day(day)
        messages = [*compose_day(plan, lambda qid: bool(library.rubric_for(qid)))]
        messages.append(compose_day_summary(plan))
        texts += [render_text(m) for m in messages]
    bad = sorted({mention for text in texts for mention in unknown_mentions(text)})
    assert not bad
