"""Only requests Slack signed act, and each delivery acts once: the face's HTTP front door."""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest

from bot import commands as catalogue
from bot.app import StudyBot
from bot.commands import COMMANDS, Command
from bot.messages import Reply
from bot.platforms.slack_app import MAX_COMMAND_TEXT, MAX_REFUSAL_LOG
from bot.services.context import Actor
from tests.support.slack_harness import CHANNEL, MEMBER, TEAM, SlackHarness, text_of

MARKER = "BODY-MARKER-7f3a"  # appears in every forged body; must never reach a log line


def _forged_bodies(slack: SlackHarness) -> dict[str, tuple[str, str]]:
    """Every kind of request, each naming the stranger host wherever a URL can go."""
    hook = slack.stranger.url("/steal")
    command = urlencode(
        {
            "command": "/study",
            "text": f"help {MARKER}",
            "team_id": TEAM,
            "channel_id": CHANNEL,
            "user_id": MEMBER,
            "response_url": hook,
            "trigger_id": "1.2.forged",
        }
    )
    event = json.dumps(
        {
            "type": "event_callback",
            "team_id": TEAM,
            "event_id": "EvFORGED",
            "event": {
                "type": "message",
                "channel": CHANNEL,
                "user": MEMBER,
                "text": MARKER,
                "ts": "2.000002",
                "thread_ts": "1.000001",
            },
        }
    )
    button = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "block_actions",
                    "team": {"id": TEAM},
                    "user": {"id": MEMBER, "team_id": TEAM},
                    "channel": {"id": CHANNEL},
                    "trigger_id": "1.3.forged",
                    "response_url": hook,
                    "actions": [{"action_id": "studybot:help", "value": f"/help {MARKER}"}],
                }
            )
        }
    )
    modal = urlencode(
        {
            "payload": json.dumps(
                {
                    "type": "view_submission",
                    "team": {"id": TEAM},
                    "user": {"id": MEMBER, "team_id": TEAM},
                    "trigger_id": "1.4.forged",
                    "response_urls": [{"response_url": hook}],
                    "view": {
                        "callback_id": "studybot_command",
                        "private_metadata": json.dumps(
                            {"path": "help", "channel_id": CHANNEL, "args": {}}
                        ),
                        "state": {"values": {}},
                        "text": MARKER,
                    },
                }
            )
        }
    )
    form = "application/x-www-form-urlencoded"
    return {
        "command": (command, form),
        "event": (event, "application/json"),
        "button": (button, form),
        "modal": (modal, form),
    }


def _bad_signatures(slack: SlackHarness, body: str) -> dict[str, dict[str, str]]:
    good = slack.signature_headers(body)
    timestamp = good["X-Slack-Request-Timestamp"]
    return {
        "absent": {},
        "timestamp not a number": {**good, "X-Slack-Request-Timestamp": "not-a-number"},
        "timestamp only": {"X-Slack-Request-Timestamp": timestamp},
        "signature only": {"X-Slack-Signature": good["X-Slack-Signature"]},
        "empty timestamp": {**good, "X-Slack-Request-Timestamp": ""},
        "negative timestamp": {**good, "X-Slack-Request-Timestamp": "-1"},
        "huge timestamp": {**good, "X-Slack-Request-Timestamp": "9" * 40},
        "wrong secret": slack.signature_headers(body, secret="x" * 32),
        "stale": slack.signature_headers(body, age_s=302),
        "from the future": slack.signature_headers(body, age_s=-310),
        "wrong version": {**good, "X-Slack-Signature": "v1=" + good["X-Slack-Signature"][3:]},
        "truncated": {**good, "X-Slack-Signature": good["X-Slack-Signature"][:-1]},
        "not ascii": {**good, "X-Slack-Signature": "v0=" + "é" * 64},
        "other body": slack.signature_headers(body + "&x=1"),
    }


def _gate_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.platforms.slack_app"]


async def test_a_forged_or_malformed_signature_reaches_nothing(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sent = 0
    for kind, (body, content_type) in _forged_bodies(slack).items():
        for name, headers in _bad_signatures(slack, body).items():
            response = await slack.post(body, {"Content-Type": content_type, **headers})
            sent += 1
            assert response.status == 401, (kind, name)
            assert await response.text() == ""
    # Refused before Bolt: no handler was scheduled, so nothing can reach any host later.
    assert (slack.gate.refused, slack.gate.passed) == (sent, 0)
    assert slack.api.calls == [] and slack.stranger.requests == []
    lines = _gate_lines(caplog)
    assert len(lines) == sent  # one line a request
    assert all(len(r.getMessage()) <= MAX_REFUSAL_LOG and not r.exc_info for r in lines)
    assert MARKER not in caplog.text and "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("payload=not-json", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("[]", "application/json"),
        ("{oops", "application/json"),
        (b"\xff\xfe\x00junk\x80", "application/x-www-form-urlencoded"),
        ("hello=world", "application/x-www-form-urlencoded"),
        ("<xml/>", "text/xml"),
        (
            'payload={"type":"view_submission","view":{"callback_id":"studybot_command"}}',
            "application/x-www-form-urlencoded",
        ),
    ],
    ids=[
        "payload-not-json",
        "payload-list",
        "json-list",
        "json-broken",
        "not-utf8",
        "no-kind",
        "xml",
        "view-without-type",
    ],
)
async def test_junk_gets_401_unsigned_and_400_signed_with_one_line_and_no_traceback(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture, body: str | bytes, content_type: str
) -> None:
    caplog.set_level(logging.DEBUG)
    unsigned = await slack.post(body, {"Content-Type": content_type})
    malformed = await slack.post(
        body,
        {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": "not-a-number",
            "X-Slack-Signature": "v0=00",
        },
    )
    signed = await slack.signed_post(body, content_type)
    assert (unsigned.status, malformed.status, signed.status) == (401, 401, 400)
    assert len(_gate_lines(caplog)) == 3
    assert "Traceback" not in caplog.text and not any(r.exc_info for r in caplog.records)
    # Bolt learns who the bot is (auth.test) for a signed request; nothing else is called.
    assert slack.gate.passed == 0
    assert {c.method for c in slack.api.calls} <= {"auth.test"}


async def test_a_huge_unsigned_body_is_refused_without_being_read_or_logged(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    body = "text=" + MARKER * (1024 * 1024 // len(MARKER))
    response = await slack.post(body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 413
    [line] = _gate_lines(caplog)
    assert len(line.getMessage()) <= MAX_REFUSAL_LOG
    assert MARKER not in caplog.text and len(caplog.text) < 1000


async def test_a_command_longer_than_slack_allows_is_acked_and_refused_without_running(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran: list[str] = []

    async def record(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        ran.append(args["text"])
        return Reply.text("graded")

    monkeypatch.setitem(COMMANDS, "answer", replace(COMMANDS["answer"], handler=record))
    response = await slack.slash("answer E1-001 " + "x" * MAX_COMMAND_TEXT)
    assert response.status == 200 and await response.text() == ""
    [reply] = await slack.api.wait_for(lambda: slack.api.responses)
    assert "longer than Slack allows" in text_of(reply)
    await slack.slash("answer E1-001 " + "y" * (MAX_COMMAND_TEXT - 20))
    await slack.api.wait_for(lambda: len(slack.api.responses) == 2)
    assert [len(t) for t in ran] == [MAX_COMMAND_TEXT - 20]


# --- exactly once ----------------------------------------------------------------------------


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    runs: list[str] = []

    async def count(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        runs.append(actor.user_id)
        return Reply.text(f"run {len(runs)}", ephemeral=False)

    monkeypatch.setitem(COMMANDS, name, Command(name, "counts its runs", handler=count))
    return runs


async def test_a_command_delivered_three_times_runs_once(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _counting(monkeypatch, "tally")
    body = slack.slash_form("tally", trigger_id="777.1.repeat")
    statuses = []
    for retry in (None, "1", "2"):
        extra = {"X-Slack-Retry-Num": retry} if retry else None
        response = await slack.signed_post(
            body, "application/x-www-form-urlencoded", extra_headers=extra
        )
        statuses.append(response.status)
    assert statuses == [200, 200, 200]
    await slack.api.wait_for(lambda: slack.api.responses)
    # A sentinel typed afterwards is answered; the repeats before it never were.
    await slack.slash("tally")
    await slack.api.wait_for(lambda: len(slack.api.responses) == 2)
    assert runs == [MEMBER, MEMBER]
    assert [text_of(r).split("\n")[0] for r in slack.api.responses] == ["run 1", "run 2"]


async def test_the_same_command_typed_twice_is_answered_twice(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = _counting(monkeypatch, "tally")
    await slack.slash("tally")
    await slack.slash("tally")
    await slack.api.wait_for(lambda: len(slack.api.responses) == 2)
    assert runs == [MEMBER, MEMBER]


async def test_a_retried_event_stores_and_answers_once(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def thread_reply(bot: StudyBot, actor: Actor, text: str) -> Reply | None:
        seen.append(text)
        return Reply.text(f"graded: {text}", ephemeral=False)

    monkeypatch.setattr(catalogue, "thread_reply", thread_reply, raising=False)
    reply = {
        "type": "message",
        "channel": CHANNEL,
        "channel_type": "channel",
        "user": MEMBER,
        "text": "my answer",
        "ts": "10.000003",
        "thread_ts": "9.000001",
    }
    first = await slack.event(reply, event_id="Ev0RETRIED")
    posts = await slack.api.wait_for(lambda: slack.api.calls_to("chat.postMessage"))
    retried = await slack.event(reply, event_id="Ev0RETRIED", retry_num=1)
    again = await slack.event(reply, event_id="Ev0RETRIED", retry_num=2)
    assert (first.status, retried.status, again.status) == (200, 200, 200)
    await slack.event({**reply, "text": "sentinel", "ts": "10.000004"})
    posts = await slack.api.wait_for(lambda: len(slack.api.calls_to("chat.postMessage")) == 2)
    assert seen == ["my answer", "sentinel"]
    posts = slack.api.calls_to("chat.postMessage")
    assert ["graded: my answer" in text_of(p.params) for p in posts] == [True, False]


async def test_a_repeat_is_recognised_by_another_bot_process(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch, db: Any
) -> None:
    from tests.support.slack_harness import slack_face

    runs = _counting(monkeypatch, "tally")
    body = slack.slash_form("tally", trigger_id="888.1.shared")
    await slack.signed_post(body, "application/x-www-form-urlencoded")
    await slack.api.wait_for(lambda: slack.api.responses)
    async with slack_face(db) as other:  # a second process on the same database
        response = await other.signed_post(body, "application/x-www-form-urlencoded")
        assert response.status == 200
        await other.slash("tally")
        await other.api.wait_for(lambda: other.api.responses)
        assert len(other.api.responses) == 1
    assert runs == [MEMBER, MEMBER]


async def test_concurrent_deliveries_of_one_event_run_once(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []

    async def thread_reply(bot: StudyBot, actor: Actor, text: str) -> Reply | None:
        seen.append(text)
        return None

    monkeypatch.setattr(catalogue, "thread_reply", thread_reply, raising=False)
    event = {
        "type": "message",
        "channel": CHANNEL,
        "user": MEMBER,
        "text": "once",
        "ts": "11.1",
        "thread_ts": "9.1",
    }
    responses = await asyncio.gather(
        *(slack.event(event, event_id="Ev0RACE", retry_num=n) for n in range(5))
    )
    assert [r.status for r in responses] == [200] * 5
    done = asyncio.Event()

    async def sentinel(bot: StudyBot, actor: Actor, text: str) -> Reply | None:
        seen.append(text)
        if text == "sentinel":
            done.set()
        return None

    monkeypatch.setattr(catalogue, "thread_reply", sentinel, raising=False)
    await slack.event({**event, "text": "sentinel", "ts": "11.2"})
    await asyncio.wait_for(done.wait(), 10)
    assert sorted(seen) == ["once", "sentinel"]


async def test_a_signed_request_nobody_handles_leaves_no_body_in_the_log(
    slack: SlackHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    event = {"type": "reaction_added", "user": MEMBER, "reaction": MARKER, "item": {}}
    response = await slack.event(event)
    assert response.status in (200, 404)
    assert MARKER not in caplog.text
    assert all(len(r.getMessage()) <= MAX_REFUSAL_LOG for r in caplog.records)
