"""What a Slack member types and reads: verbatim answers, labelled forms, names, DMs, scopes."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import StudyBot
from bot.commands import COMMANDS, Command
from bot.errors import StudyBotError
from bot.messages import Reply
from bot.platforms.slack_app import MODAL_CALLBACK_ID, REQUIRED_SCOPES
from bot.services.context import Actor
from tests.support.slack_harness import ADMIN, CHANNEL, MEMBER, TEAM, SlackHarness, text_of

ROOT = Path(__file__).resolve().parents[2]
SLACK_FACE_SOURCES = [
    ROOT / "bot" / "platforms" / "slack_app.py",
    ROOT / "bot" / "platforms" / "face_plumbing.py",
]


def _recording_answer(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    async def record(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        seen.append(args)
        return Reply.text(f"graded {args['id']}")

    monkeypatch.setitem(COMMANDS, "answer", replace(COMMANDS["answer"], handler=record))
    return seen


async def test_an_answer_typed_after_the_command_arrives_verbatim(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _recording_answer(monkeypatch)
    answer = (
        'It\'s the KV cache: weights live in C:\\models\\llama and "paged" blocks\n'
        "  keep id=3 and text=4 apart; an odd ' apostrophe & a <tag> stay too"
    )
    # Slack escapes &, < and > in a command's text; the face undoes exactly that.
    typed = answer.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    await slack.slash(f"answer E1-001 {typed}")
    await slack.api.wait_for(lambda: slack.api.responses)
    assert seen == [{"id": "E1-001", "text": answer}]


async def test_the_answer_modal_labels_its_fields_and_leaves_no_working_note(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _recording_answer(monkeypatch)
    bare = await slack.slash("answer")
    with_id = await slack.slash("answer E3-082")
    assert (await bare.text(), await with_id.text()) == ("", "")  # no "Working on…" note
    views = await slack.api.wait_for(lambda: len(slack.api.views) == 2 and slack.api.views)
    labels = [
        [b["label"]["text"] for b in view["blocks"] if b["type"] == "input"] for view in views
    ]
    assert labels == [["Question", "Your answer"], ["Your answer"]]
    assert "Question:* E3-082" in text_of(views[1])
    assert all(view["title"]["text"] == "/study answer" for view in views)
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM},
        "trigger_id": "5.6.7",
        "view": {
            **views[1],
            "state": {"values": {"text": {"value": {"value": 'It\'s C:\\x\n"y"'}}}},
        },
    }
    assert (await slack.interaction(submission)).status == 200
    [shown] = await slack.api.wait_for(lambda: slack.api.ephemerals)
    assert seen == [{"id": "E3-082", "text": 'It\'s C:\\x\n"y"'}]
    assert "graded E3-082" in text_of(shown)


def _modal_submission(channel: str, path: str, values: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM},
        "trigger_id": f"9.{path}.{channel}",
        "view": {
            "type": "modal",
            "callback_id": MODAL_CALLBACK_ID,
            "private_metadata": json.dumps({"path": path, "channel_id": channel, "args": {}}),
            "state": {"values": {k: {"value": {"value": v}} for k, v in values.items()}},
        },
    }


@pytest.mark.parametrize("unreachable", ["not_member", "dm_between_members"])
async def test_a_modal_sent_where_the_bot_cannot_post_is_answered_by_dm(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch, unreachable: str
) -> None:
    seen = _recording_answer(monkeypatch)
    channel = CHANNEL if unreachable == "not_member" else "D0OTHERDM"
    if unreachable == "not_member":
        slack.api.not_member_channels.add(channel)
    else:
        slack.api.missing_channels.add(channel)
    await slack.interaction(_modal_submission(channel, "answer", {"id": "E1-001", "text": "x"}))
    [dm] = await slack.api.wait_for(lambda: slack.api.messages.get(f"D{MEMBER}"))
    assert seen and "graded E1-001" in text_of(dm)
    assert slack.api.calls_to("conversations.open")[0].params["users"] == MEMBER


async def test_an_error_from_a_modal_where_the_bot_cannot_post_is_sent_by_dm(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def refuse(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        raise StudyBotError("No question E9-999.")

    monkeypatch.setitem(COMMANDS, "answer", replace(COMMANDS["answer"], handler=refuse))
    slack.api.not_member_channels.add(CHANNEL)
    await slack.interaction(_modal_submission(CHANNEL, "answer", {"id": "E9-999", "text": "x"}))
    [dm] = await slack.api.wait_for(lambda: slack.api.messages.get(f"D{MEMBER}"))
    assert "No question E9-999." in text_of(dm)


async def test_display_names_come_from_users_info_once_a_while(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def whoami(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        return Reply.text(f"name={actor.display_name}")

    monkeypatch.setitem(COMMANDS, "whoami", Command("whoami", "who", handler=whoami))
    slack.api.display_names[MEMBER] = "Ada L."
    for _ in range(3):
        await slack.slash("whoami")
    replies = await slack.api.wait_for(
        lambda: len(slack.api.responses) == 3 and slack.api.responses
    )
    assert [text_of(r).split("\n")[0] for r in replies] == ["name=Ada L."] * 3
    assert len(slack.api.calls_to("users.info")) == 1
    slack.bot.clock.advance(minutes=6)  # type: ignore[attr-defined]
    await slack.slash("whoami")
    await slack.api.wait_for(lambda: len(slack.api.responses) == 4)
    assert len(slack.api.calls_to("users.info")) == 2


async def test_cohort_setup_names_the_cohort_after_its_channel(slack: SlackHarness) -> None:
    slack.api.channel_names[CHANNEL] = "ml-systems-spring"
    await slack.slash("cohort setup timezone=Europe/Berlin", user=ADMIN)
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert "#ml-systems-spring" in text_of(reply)
    cohort = await slack.bot.cohorts.cohort_for(Actor("slack", TEAM, CHANNEL, ADMIN))
    assert cohort is not None and cohort.name == "#ml-systems-spring"
    await slack.slash("cohort setup post_time=07:00", user=ADMIN)  # keeps its name
    await slack.api.wait_for(lambda: len(slack.api.responses) == 2)
    cohort = await slack.bot.cohorts.cohort_for(Actor("slack", TEAM, CHANNEL, ADMIN))
    assert cohort is not None and cohort.name == "#ml-systems-spring"
    assert len(slack.api.calls_to("conversations.info")) == 1


# --- scopes ----------------------------------------------------------------------------------


def _dotted_name(method: str) -> str | None:
    """Map an AsyncWebClient method (chat_postMessage) to its Web API name (chat.postMessage)."""
    function = getattr(AsyncWebClient, method, None)
    if function is None:
        return None
    found = re.search(r'api_call\(\s*"([a-zA-Z.]+)"', inspect.getsource(function))
    return found.group(1) if found else None


def _called_methods(path: Path) -> set[str]:
    """Collect every Web API method a source file calls through a client."""
    called: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        owner_name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
        if owner_name in ("client", "_client") and (dotted := _dotted_name(node.attr)):
            called.add(dotted)
    return called


def _manifest_scopes() -> set[str]:
    manifest = yaml.safe_load((ROOT / "slack_manifest.yaml").read_text())
    return set(manifest["oauth_config"]["scopes"]["bot"])


def test_every_web_api_method_the_face_calls_is_granted_by_the_manifest() -> None:
    called = set().union(*(_called_methods(p) for p in SLACK_FACE_SOURCES))
    # The face's calls, found by reading it, not by trusting its own list.
    assert {
        "chat.postMessage",
        "chat.postEphemeral",
        "conversations.info",
        "conversations.open",
        "users.info",
        "views.open",
    } <= called
    unlisted = called - set(REQUIRED_SCOPES)
    assert unlisted == set(), f"methods without their scopes in REQUIRED_SCOPES: {unlisted}"
    missing = {m: s for m in called for s in REQUIRED_SCOPES[m] if s not in _manifest_scopes()}
    assert missing == {}, f"slack_manifest.yaml lacks {missing}"


def test_the_scope_check_catches_a_call_without_its_scope(tmp_path: Path) -> None:
    source = tmp_path / "face.py"
    source.write_text("async def f(client):\n    await client.reactions_add(name='x')\n")
    assert _called_methods(source) == {"reactions.add"}
    assert "reactions.add" not in REQUIRED_SCOPES
