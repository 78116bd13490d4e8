"""The Bolt app over HTTP: signed requests in, Web API calls out to the local mock server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml

from bot import commands as catalogue
from bot.app import StudyBot
from bot.clock import FakeClock
from bot.commands import COMMANDS, Command, Option
from bot.errors import StudyBotError
from bot.messages import Reply
from bot.platforms.slack_app import (
    EVENT_SCOPES,
    EVENTS_PATH,
    MODAL_CALLBACK_ID,
    REQUIRED_SCOPES,
    SLASH_COMMAND,
    build_slack_app,
)
from bot.services.context import Actor
from bot.settings import SlackSettings, load_settings
from tests.support.slack_harness import ADMIN, CHANNEL, MEMBER, TEAM, SlackHarness
from tests.support.slack_harness import text_of as _text_of

ROOT = Path(__file__).resolve().parents[2]


def _temporary_command(
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    handler: Callable[[StudyBot, Actor, dict[str, Any]], Awaitable[Reply]],
    **spec: Any,
) -> None:
    monkeypatch.setitem(
        COMMANDS, name, Command(name, f"{name} for a test", handler=handler, **spec)
    )


async def test_help_is_acked_and_answered_through_the_response_url(slack: SlackHarness) -> None:
    response = await slack.slash("help")
    assert response.status == 200
    reply = await slack.api.wait_for(lambda: slack.api.responses)
    assert reply[0]["response_type"] == "ephemeral"
    text = _text_of(reply[0])
    for path in ("today", "cohort setup", "me timezone"):
        assert f"/study {path}" in text


async def test_a_bad_signature_is_rejected(slack: SlackHarness) -> None:
    body = urlencode({"command": SLASH_COMMAND, "text": "help", "team_id": TEAM})
    wrong = await slack.signed_post(body, "application/x-www-form-urlencoded", secret="x" * 32)
    stale = await slack.signed_post(body, "application/x-www-form-urlencoded", age_s=600)
    assert (wrong.status, stale.status) == (401, 401)
    # Refused before Bolt saw them: nothing was scheduled that could answer later.
    assert (slack.gate.refused, slack.gate.passed) == (2, 0)
    assert slack.api.calls == []


async def test_a_slow_command_is_acked_before_its_work_is_done(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = asyncio.Event()
    release = asyncio.Event()

    async def slow(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        started.set()
        await release.wait()
        return Reply.text(f"graded for {actor.user_id}")

    _temporary_command(monkeypatch, "slowtest", slow, slow=True)
    # The work cannot finish before `release`: an ack that waited for it would never come.
    response = await slack.slash("slowtest")
    assert response.status == 200
    assert "Working on /study slowtest" in await response.text()
    await started.wait()
    assert slack.api.responses == []
    release.set()
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert f"graded for {MEMBER}" in _text_of(reply)
    assert reply["replace_original"] is True  # the "working on it" note gives way


async def test_study_errors_are_rendered_once_for_the_member(slack: SlackHarness) -> None:
    response = await slack.slash("frobnicate")
    assert response.status == 200
    await slack.slash('cohort setup timezone="Europe/Berlin')
    api = slack.api
    replies = await api.wait_for(lambda: len(api.responses) == 2 and api.responses)
    # The line is not a shell: an unbalanced quote reaches the value, which is then refused.
    assert "Unknown time zone '\"Europe/Berlin'" in _text_of(replies[1])
    reply = replies[0]
    assert reply["response_type"] == "ephemeral"
    assert "Unknown command /frobnicate" in _text_of(reply)


async def test_an_unexpected_failure_becomes_an_apology_with_an_error_id(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        raise RuntimeError("database password is hunter2")

    _temporary_command(monkeypatch, "broken", broken)
    await slack.slash("broken")
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    text = _text_of(reply)
    assert "error id" in text and "hunter2" not in text


async def test_admin_rights_come_from_users_info(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def whoami(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        return Reply.text(
            f"{actor.user_id} admin={actor.is_workspace_admin} in {actor.workspace_id}"
        )

    _temporary_command(monkeypatch, "whoami", whoami, admin=True)
    await slack.slash("whoami", user=ADMIN)
    await slack.slash("whoami", user=MEMBER)
    api = slack.api
    replies = await api.wait_for(lambda: len(api.responses) == 2 and api.responses)
    texts = sorted(_text_of(r) for r in replies)
    assert f"{ADMIN} admin=True in {TEAM}" in texts[0]
    assert f"{MEMBER} admin=False in {TEAM}" in texts[1]
    assert sorted(c.params["user"] for c in slack.api.calls_to("users.info")) == [ADMIN, MEMBER]


async def test_cohort_setup_by_a_workspace_admin_creates_the_cohort(slack: SlackHarness) -> None:
    await slack.slash("cohort setup timezone=Europe/Berlin post_time=07:30", user=ADMIN)
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert reply["response_type"] == "in_channel"
    assert "created" in _text_of(reply)
    actor = Actor("slack", TEAM, CHANNEL, ADMIN)
    cohort = await slack.bot.cohorts.cohort_for(actor)
    assert cohort is not None
    assert (cohort.timezone, cohort.post_time.strftime("%H:%M")) == ("Europe/Berlin", "07:30")


async def test_a_member_cannot_change_the_cohort(slack: SlackHarness) -> None:
    await slack.slash("cohort setup timezone=Europe/Berlin", user=MEMBER)
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert reply["response_type"] == "ephemeral"
    assert "Only server/workspace admins" in _text_of(reply)
    assert await slack.bot.cohorts.cohort_for(Actor("slack", TEAM, CHANNEL, MEMBER)) is None


async def test_a_thread_reply_is_an_answer_and_is_answered_in_the_thread(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[Actor, str]] = []

    async def thread_reply(bot: StudyBot, actor: Actor, text: str) -> Reply | None:
        seen.append((actor, text))
        return Reply.text("3/4 rubric points", ephemeral=False)

    monkeypatch.setattr(catalogue, "thread_reply", thread_reply, raising=False)
    base = {"type": "message", "channel": CHANNEL, "channel_type": "channel"}
    await slack.event({**base, "user": MEMBER, "text": "top-level chat", "ts": "10.000001"})
    await slack.event(
        {**base, "bot_id": "B1", "text": "bot", "ts": "10.000002", "thread_ts": "9.1"}
    )
    response = await slack.event(
        {**base, "user": MEMBER, "text": "my answer", "ts": "10.000003", "thread_ts": "9.000001"}
    )
    assert response.status == 200
    posted = await slack.api.wait_for(lambda: slack.api.calls_to("chat.postMessage"))
    assert [(a.user_id, a.thread_id, a.platform, a.workspace_id, t) for a, t in seen] == [
        (MEMBER, "9.000001", "slack", TEAM, "my answer")
    ]
    assert posted[0].params["thread_ts"] == "9.000001"
    assert "3/4 rubric points" in _text_of(posted[0].params)


async def test_a_missing_answer_text_opens_a_modal_whose_submission_runs_the_command(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def note(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        return Reply.text(f"noted {args['id']}: {args['body']} in {actor.channel_id}")

    _temporary_command(
        monkeypatch,
        "note",
        note,
        options=(
            Option("id", "question id", "str", True),
            Option("body", "the note", "text", True),
        ),
    )
    await slack.slash("note E3-082")
    [opened] = await slack.api.wait_for(lambda: slack.api.calls_to("views.open"))
    view = opened.params["view"]
    assert opened.params["trigger_id"].startswith("1337.")
    assert view["callback_id"] == MODAL_CALLBACK_ID
    inputs = [b for b in view["blocks"] if b["type"] == "input"]
    assert [b["block_id"] for b in inputs] == ["body"]
    assert inputs[0]["element"]["multiline"] is True
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM, "name": "member"},
        "api_app_id": "A0STUDY01",
        "trigger_id": "1337.43.abcd",
        "view": {
            **view,
            "id": "V1",
            "state": {
                "values": {"body": {"value": {"type": "plain_text_input", "value": "KV cache"}}}
            },
        },
    }
    response = await slack.interaction(submission)
    assert response.status == 200
    [shown] = await slack.api.wait_for(lambda: slack.api.ephemerals)
    assert shown["user"] == MEMBER and shown["channel"] == CHANNEL
    assert f"noted E3-082: KV cache in {CHANNEL}" in _text_of(shown)


async def test_the_answer_command_asks_for_its_text_in_a_modal(slack: SlackHarness) -> None:
    await slack.slash("answer E3-082")
    [opened] = await slack.api.wait_for(lambda: slack.api.calls_to("views.open"))
    assert json.loads(opened.params["view"]["private_metadata"])["args"] == {"id": "E3-082"}


async def test_a_button_runs_the_command_line_it_carries(slack: SlackHarness) -> None:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM},
        "channel": {"id": CHANNEL},
        "api_app_id": "A0STUDY01",
        "trigger_id": "1.2.3",
        "response_url": slack.api.response_url("button"),
        "actions": [
            {"type": "button", "action_id": "studybot:help", "value": "/help", "block_id": "b"}
        ],
    }
    assert (await slack.interaction(payload)).status == 200
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert "StudyBot commands" in _text_of(reply)


def test_the_manifest_declares_every_scope_event_and_the_command() -> None:
    manifest = yaml.safe_load((ROOT / "slack_manifest.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    from bot.platforms.slack_mock_rooms import MOCK_ROOM_SCOPES

    required = {**REQUIRED_SCOPES, **MOCK_ROOM_SCOPES}
    needed = {s for group in required.values() for s in group} | {"commands"}
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    needed |= {s for e in events for s in EVENT_SCOPES[e]}
    assert needed <= scopes
    assert {"message.channels", "message.groups"} <= set(events)
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == SLASH_COMMAND and command["url"].endswith(EVENTS_PATH)
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_every_web_api_method_the_face_calls_has_its_scopes_listed() -> None:
    import re

    from bot.platforms.slack_mock_rooms import MOCK_ROOM_SCOPES

    for module, scopes in (("slack_app", REQUIRED_SCOPES), ("slack_mock_rooms", MOCK_ROOM_SCOPES)):
        source = (ROOT / "bot" / "platforms" / f"{module}.py").read_text()
        called = set(re.findall(r"client\.([a-z]+_[a-zA-Z]+)\b", source)) - {"client_session"}
        listed = {m.replace(".", "_") for m in scopes}
        assert called and called <= listed, module


def test_a_half_configured_face_refuses_to_start() -> None:
    base = load_settings()
    no_token = base.model_copy(update={"slack": SlackSettings(bot_token=None, app_token=None)})
    no_secret = base.model_copy(
        update={"slack": SlackSettings(bot_token="xoxb-1", app_token=None, signing_secret=None)}
    )
    for settings in (no_token, no_secret):
        bot = StudyBot(
            settings=settings, engine=None, sessions=None, clock=FakeClock(datetime.now(UTC))
        )  # type: ignore[arg-type]
        with pytest.raises(StudyBotError):
            build_slack_app(bot)
    socket = base.model_copy(
        update={"slack": SlackSettings(bot_token="xoxb-1", app_token="xapp-1", signing_secret=None)}
    )
    bot = StudyBot(settings=socket, engine=None, sessions=None, clock=FakeClock(datetime.now(UTC)))  # type: ignore[arg-type]
    app, publisher = build_slack_app(bot)
    assert publisher.platform == "slack" and app is not None
