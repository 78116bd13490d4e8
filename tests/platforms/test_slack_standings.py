"""Slack: /study stats answers privately and uploads its chart to the member's DM."""

from __future__ import annotations

from tests.bot.test_standings_charts import png_size
from tests.support.slack_harness import ADMIN, CHANNEL, MEMBER, SlackHarness
from tests.support.slack_harness import text_of as _text_of


async def test_stats_reply_is_private_and_its_chart_goes_to_the_members_dm(
    slack: SlackHarness,
) -> None:
    await slack.slash("cohort setup timezone=Europe/Berlin", user=ADMIN)
    await slack.api.wait_for(lambda: len(slack.api.responses) >= 1)
    await slack.slash("cohort join", user=MEMBER)
    await slack.api.wait_for(lambda: len(slack.api.responses) >= 2)
    await slack.slash("stats", user=MEMBER)
    await slack.api.wait_for(lambda: any(f.get("channel") for f in slack.api.files.values()))
    reply = slack.api.responses[-1]
    assert reply["response_type"] == "ephemeral" and "0 points" in _text_of(reply)
    (upload,) = slack.api.files.values()
    assert upload["channel"] == f"D{MEMBER}" != CHANNEL  # the member's DM, not the channel
    assert png_size(upload["data"]) == (1000, 650)
