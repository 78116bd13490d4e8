"""Real recap processes on PostgreSQL against the mock Slack: a missed recap, caught up once.

The cohorts' Monday recap slot passed while no bot ran. Bot A comes back and posts; it is paused
(SIGSTOP) while Slack holds its first recap unanswered, for longer than its claim's lease; bot B
takes over, finds that recap in the channel and posts the rest; A resumes and is refused.
The test reacts to what the mock Slack and the bots report, never to a sleep.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.services.recap import due_week, recap_key
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Cohort, WorkClaim
from tests.support.bot_processes import WAIT_S, BotProcess, SlowSlack, serving_args

pytestmark = pytest.mark.postgres

COHORTS = 3


async def start_recap_bot(
    name: str, *, db: dict[str, str], slack_url: str, tmp: Path, **opts: float
) -> BotProcess:
    """Start a `tests.support.recap_bot` process and wait until it is serving."""
    args = serving_args(name, db=db, slack_url=slack_url, **opts)
    return await BotProcess.start("tests.support.recap_bot", name, args, tmp)


@pytest_asyncio.fixture
async def pg(pg_url: str, pg_schema: str) -> AsyncIterator[dict[str, Any]]:
    """Slack cohorts whose last Monday recap slot passed at least a day ago, unposted."""
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    await _truncate_all(engine)
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    # The post time an hour from now: today's slot (if today is Monday) has not come, so the
    # slot that ran is a past Monday's, which nobody posted: a catch-up, whatever day it is.
    post_time = (now + timedelta(hours=1)).time().replace(second=0, microsecond=0)
    async with sessions() as session:
        session.add_all(
            Cohort(
                name=f"Cohort {i}",
                platform="slack",
                workspace_id="T0TEAM001",
                channel_id=f"C0STUDY{i:02d}",
                timezone="UTC",
                post_time=post_time,
                start_date=now.date() - timedelta(days=30),
            )
            for i in range(COHORTS)
        )
        await session.commit()
        cohorts = list((await session.execute(select(Cohort))).scalars())
    weeks = {due_week(c, now) for c in cohorts}
    assert len(weeks) == 1 and None not in weeks
    (week,) = weeks
    assert week is not None and now.date() - week >= timedelta(days=8)  # the slot was missed
    ids = [int(c.id or 0) for c in cohorts]
    yield {"url": pg_url, "schema": pg_schema, "sessions": sessions, "ids": ids, "week": week}
    await engine.dispose()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlowSlack]:
    """The slow mock Slack Web API."""
    async with SlowSlack() as server:
        yield server
        print("\n".join(server.timeline))


@pytest_asyncio.fixture
async def bots() -> AsyncIterator[list[BotProcess]]:
    """Bot processes a test starts; every one is stopped at the end."""
    started: list[BotProcess] = []
    yield started
    for bot in started:
        await bot.close()
        print(f"--- {bot.name} (shown when a test fails)\n{bot.stderr()}")


def reported(bot: BotProcess, kind: str) -> set[int]:
    """Return the cohorts a bot reported under `kind` (posted, lost) in any pass."""
    return {c for line in bot.lines for c in line[kind]}


async def test_a_caught_up_recap_is_posted_once_though_its_poster_was_paused_past_its_lease(
    pg: dict[str, Any], slack: SlowSlack, bots: list[BotProcess], tmp_path: Path
) -> None:
    opts = {"tick": 0.2, "heartbeat": 0.3, "lease": 2.0}
    week: date = pg["week"]
    everything = set(pg["ids"])
    paused = asyncio.Event()
    paused_at: list[float] = []

    def pause_first_bot(post: dict[str, Any]) -> None:
        # A's first recap is stored and not answered yet: A is paused waiting on Slack.
        if slack.stored == 1 and not paused.is_set():
            bots[0].signal(signal.SIGSTOP)
            paused_at.append(time.monotonic())
            slack.timeline.append(f"{paused_at[0]:.3f} A stopped")
            paused.set()

    slack.on_stored = pause_first_bot
    bots.append(await start_recap_bot("A", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts))
    async with asyncio.timeout(WAIT_S):
        await paused.wait()
    bots.append(await start_recap_bot("B", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts))
    await bots[1].wait_for(lambda lines: reported(bots[1], "posted") == everything)
    # B took over as soon as A's heartbeat went stale; A stays stopped until the lease it last
    # renewed (before its send) has run out too: the scenario, not a wait for a result.
    await asyncio.sleep(max(0.0, paused_at[0] + opts["lease"] + 0.2 - time.monotonic()))
    # A wakes up past its lease, with Slack's answer to the recap it sent before the pause.
    bots[0].signal(signal.SIGCONT)
    slack.timeline.append(f"{time.monotonic():.3f} A continued")
    await bots[0].wait_for(lambda lines: bool(reported(bots[0], "lost")))
    await bots[0].wait_for(lambda lines: len(lines) >= 3)  # and a few passes more
    await bots[1].wait_for(lambda lines: len(lines) >= 3)
    logs = "\n".join(f"--- {bot.name}\n{bot.stderr()}" for bot in bots)
    (taken_over,) = reported(bots[0], "lost")
    assert reported(bots[0], "posted") == set(), logs
    # Each cohort's recap of the missed week is in Slack exactly once, and nothing else.
    keys = slack.keys()
    assert dict(keys) == {recap_key(c, week): 1 for c in everything}, logs
    async with pg["sessions"]() as session:
        claims = (await session.execute(select(WorkClaim))).scalars().all()
    assert {c.key for c in claims} == {recap_key(c, week) for c in everything}
    assert all(c.status == "finished" and c.holder == "B" for c in claims), logs
    (resumed,) = [c for c in claims if c.epoch == 2]
    assert resumed.key == recap_key(taken_over, week)
