"""The mock scorecard on Slack: one modal of selects whose submission runs /mock scorecard."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app import StudyBot
from bot.commands import COMMANDS
from bot.messages import Reply
from bot.platforms.slack_app import MODAL_CALLBACK_ID
from bot.services.context import Actor
from tests.support.slack_harness import MEMBER, TEAM, SlackHarness
from tests.support.slack_harness import text_of as _text_of


async def test_the_scorecard_is_one_modal_of_selects(
    slack: SlackHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    got: list[dict[str, Any]] = []

    async def record(bot: StudyBot, actor: Actor, args: dict[str, Any]) -> Reply:
        got.append(args)
        return Reply.text("scorecard noted")

    real = COMMANDS["mock scorecard"]
    monkeypatch.setitem(
        COMMANDS,
        "mock scorecard",
        type(real)(real.name, real.description, real.group, real.options, handler=record),
    )
    await slack.slash("mock scorecard")
    [opened] = await slack.api.wait_for(lambda: slack.api.calls_to("views.open"))
    view = opened.params["view"]
    assert view["callback_id"] == MODAL_CALLBACK_ID
    selects = [b for b in view["blocks"] if b["element"]["type"] == "static_select"]
    assert [b["label"]["text"] for b in selects][:2] == ["Requirements", "Architecture"]
    assert len(selects) == 7
    assert [o["value"] for o in selects[0]["element"]["options"]] == ["not-yet", "good", "great"]
    assert selects[0]["element"]["options"][2]["text"]["text"] == "great = strong hire"
    flags = next(b for b in view["blocks"] if b["block_id"] == "flags")
    groups = flags["element"]["option_groups"]
    assert [g["label"]["text"] for g in groups] == ["Red flags", "Green flags"]
    values: dict[str, Any] = {
        b["block_id"]: {"value": {"type": "static_select", "selected_option": {"value": "good"}}}
        for b in selects
    }
    values["rate:0"]["value"]["selected_option"] = {"value": "great"}
    green = groups[1]["options"][0]["value"]
    values["flags"] = {"value": {"selected_options": [{"value": green}]}}
    values["comment"] = {"value": {"type": "plain_text_input", "value": "Clear, well paced."}}
    submission = {
        "type": "view_submission",
        "team": {"id": TEAM},
        "user": {"id": MEMBER, "team_id": TEAM, "name": "member"},
        "api_app_id": "A0STUDY01",
        "trigger_id": "1337.43.abcd",
        "view": {**view, "id": "V1", "state": {"values": values}},
    }
    assert (await slack.interaction(submission)).status == 200
    [shown] = await slack.api.wait_for(lambda: slack.api.ephemerals)
    assert "scorecard noted" in _text_of(shown)
    [args] = got
    assert args["ratings"].startswith("Requirements=great; Architecture=good")
    assert args["ratings"].count("=") == 7
    assert args["flags"] == green and args["comment"] == "Clear, well paced."
