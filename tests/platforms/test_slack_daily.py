"""The daily post through the real SlackPublisher and the mock Slack Web API: exactly once."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.messages import Channel, Message, SentMessage
from bot.platforms.slack_app import SlackPublisher
from bot.services.context import Actor
from bot.settings import load_settings
from bot.store.models import Cohort, DayPost
from tests.support.slack_api_server import MockSlackApi

TEAM = "T0TEAM001"
CHANNEL = "C0STUDY01"
ADMIN = Actor("slack", TEAM, CHANNEL, "U0ADMIN01", "Ada", is_workspace_admin=True)
DUE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class Crash(BaseException):
    """Stands in for the process dying between Slack's answer and the bot's record of it."""


class CrashingPublisher(SlackPublisher):
    """The real publisher, killed right after Slack accepts its Nth message."""

    crash_after: int | None = None
    accepted = 0

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        sent = await super().post(channel, message, idempotency_key=idempotency_key)
        self.accepted += 1
        if self.crash_after is not None and self.accepted >= self.crash_after:
            self.crash_after = None
            raise Crash
        return sent


@pytest_asyncio.fixture
async def api() -> AsyncIterator[MockSlackApi]:
    """The mock Slack Web API."""
    async with MockSlackApi() as server:
        yield server


def make_bot(db: Any, api: MockSlackApi, clock: FakeClock) -> tuple[StudyBot, CrashingPublisher]:
    """A bot (one 'process') whose Slack posts go to the mock."""
    bot = StudyBot(settings=load_settings(), engine=db.engine, sessions=db.sessions, clock=clock)
    client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
    publisher = CrashingPublisher(client, channel_interval_s=0)
    bot.add_publisher("slack", publisher)
    return bot, publisher


async def make_cohort(bot: StudyBot) -> Cohort:
    """A Slack cohort whose day 1 is due at 08:00 UTC on DUE's date."""
    return await bot.cohorts.setup(
        ADMIN, timezone="UTC", post_time="08:00", start_date=DUE.date().isoformat()
    )


def keys_in_channel(api: MockSlackApi) -> Counter[str]:
    """Count the channel's messages per idempotency key."""
    return Counter(
        m["metadata"]["event_payload"]["key"]
        for m in api.posted(CHANNEL)
        if m.get("metadata", {}).get("event_type") == "studybot_post"
    )


def expected_keys(bot: StudyBot, cohort: Cohort, day: int) -> set[str]:
    """The idempotency key of every part of a day's post."""
    return {f"studybot:{cohort.id}:{day}:{m.key}" for m in bot.daily.compose_day(day)}


async def test_a_429_storm_ends_in_exactly_one_post_per_part(db: Any, api: MockSlackApi) -> None:
    clock = FakeClock(DUE + timedelta(seconds=30))
    bot, publisher = make_bot(db, api, clock)
    cohort = await make_cohort(bot)
    parts = expected_keys(bot, cohort, 1)
    api.rate_limit(4, retry_after=2, method="chat.postMessage")  # the first part, four times
    # a longer storm later: one part exhausts its retries and the claim is given back
    api.rate_limit(6, retry_after=1, method="chat.postMessage", from_call=8)
    first = await bot.daily.publish_due(clock.now())
    assert first.posted == [] and first.deferred, "the storm should defer the post"
    clock.advance(minutes=1)
    second = await bot.daily.publish_due(clock.now())
    await publisher.aclose()
    assert second.posted == [(cohort.id, 1)]
    assert keys_in_channel(api) == Counter(dict.fromkeys(parts, 1))
    assert api.rate_limited == 4 + 6
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
    assert post.status == "posted" and set(post.message_ids) == {k.split(":", 3)[3] for k in parts}
    starters = [m for m in bot.daily.compose_day(1) if m.thread_starter]
    assert all(post.message_ids[m.key]["thread_id"] for m in starters)


async def test_an_answer_lost_after_slack_accepted_is_found_not_resent(
    db: Any, api: MockSlackApi
) -> None:
    clock = FakeClock(DUE + timedelta(seconds=30))
    bot, publisher = make_bot(db, api, clock)
    cohort = await make_cohort(bot)
    api.fail(method="chat.postMessage", nth=3, status=500, after_accept=True)
    report = await bot.daily.publish_due(clock.now())
    await publisher.aclose()
    assert report.posted == [(cohort.id, 1)]
    assert keys_in_channel(api) == Counter(dict.fromkeys(expected_keys(bot, cohort, 1), 1))
    assert len(api.calls_to("conversations.history")) == 1


async def test_a_restart_after_slack_accepted_does_not_double_the_message(
    db: Any, api: MockSlackApi
) -> None:
    clock = FakeClock(DUE + timedelta(seconds=30))
    bot, publisher = make_bot(db, api, clock)
    cohort = await make_cohort(bot)
    publisher.crash_after = 3
    with pytest.raises(Crash):
        await bot.daily.publish_due(clock.now())
    await publisher.aclose()
    clock.advance(minutes=6)  # the dead process's lease has run out
    restarted, publisher = make_bot(db, api, clock)
    report = await restarted.daily.publish_due(clock.now())
    await publisher.aclose()
    assert report.posted == [(cohort.id, 1)]
    assert keys_in_channel(api) == Counter(dict.fromkeys(expected_keys(bot, cohort, 1), 1))


async def test_a_lost_channel_pauses_the_cohort_and_tells_its_admin(
    db: Any, api: MockSlackApi
) -> None:
    clock = FakeClock(DUE + timedelta(seconds=30))
    bot, publisher = make_bot(db, api, clock)
    cohort = await make_cohort(bot)
    api.archived_channels.add(CHANNEL)
    report = await bot.daily.publish_due(clock.now())
    await publisher.aclose()
    assert [(c, d) for c, d, _ in report.failed] == [(cohort.id, 1)]
    async with db.sessions() as session:
        stored = await session.get(Cohort, cohort.id)
    assert stored is not None and stored.paused and "is_archived" in (stored.paused_reason or "")
    [opened] = api.calls_to("conversations.open")
    assert opened.params["users"] == ADMIN.user_id
    [dm] = api.posted("D" + ADMIN.user_id)
    assert "archived" in dm["text"] or any("archived" in str(b) for b in dm["blocks"])
