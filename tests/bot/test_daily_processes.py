"""Real bot processes on PostgreSQL against the mock Slack: paused, killed, racing, posting once.

Each bot is a subprocess (`tests.support.daily_bot`) publishing through the real SlackPublisher
to the mock Slack Web API served here, which answers every post slowly (after storing it, as a
slow Slack does). The test reacts to what the mock sees (events), never to a sleep.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.services.daily import compose_day
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Cohort, DayPost, WorkClaim
from content import load_library
from tests.support.bot_processes import WAIT_S, BotProcess, SlowSlack, serving_args

pytestmark = pytest.mark.postgres

DAY = 2
COHORTS = 3


async def start_daily_bot(
    name: str, *, db: dict[str, str], slack_url: str, tmp: Path, **opts: float
) -> BotProcess:
    """Start a `tests.support.daily_bot` process and wait until it is serving."""
    args = serving_args(name, db=db, slack_url=slack_url, **opts)
    return await BotProcess.start("tests.support.daily_bot", name, args, tmp)


@pytest_asyncio.fixture
async def pg(pg_url: str, pg_schema: str) -> AsyncIterator[dict[str, Any]]:
    """The migrated PostgreSQL schema, emptied, with `DAY` due now for COHORTS Slack cohorts."""
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    await _truncate_all(engine)
    sessions = make_session_factory(engine)
    due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
    async with sessions() as session:
        session.add_all(
            Cohort(
                name=f"Cohort {i}",
                platform="slack",
                workspace_id="T0TEAM001",
                channel_id=f"C0STUDY{i:02d}",
                timezone="UTC",
                post_time=due.time(),
                start_date=due.date() - timedelta(days=DAY - 1),
            )
            for i in range(COHORTS)
        )
        await session.commit()
        ids = list((await session.execute(select(Cohort.id))).scalars())
    yield {"url": pg_url, "schema": pg_schema, "sessions": sessions, "cohort_ids": ids}
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


def posted_by(bot: BotProcess) -> set[tuple[int, int]]:
    """Return the (cohort, day) posts a bot reported as finished."""
    return {(c, d) for line in bot.lines for c, d in line["posted"]}


def expected_keys(cohort_ids: list[int]) -> set[str]:
    """Return the idempotency key of every part every cohort must post."""
    parts = compose_day(load_library().day(DAY))
    return {f"studybot:{c}:{DAY}:{m.key}" for c in cohort_ids for m in parts}


async def assert_posted_exactly_once(
    pg: dict[str, Any], slack: SlowSlack, bots: list[BotProcess]
) -> list[WorkClaim]:
    """Every part once in Slack, and the records name exactly those messages."""
    expected = expected_keys(pg["cohort_ids"])
    keys = slack.keys()
    logs = "\n".join(f"--- {bot.name}\n{bot.stderr()}" for bot in bots)
    logs += "\n".join(slack.timeline)
    assert set(keys) == expected, logs
    assert [k for k, n in keys.items() if n != 1] == [], logs
    ts = slack.ts_by_key()
    async with pg["sessions"]() as session:
        posts = (await session.execute(select(DayPost))).scalars().all()
        claims = (await session.execute(select(WorkClaim))).scalars().all()
    assert sorted(p.cohort_id for p in posts) == sorted(pg["cohort_ids"])
    for post in posts:
        assert post.status == "posted"
        recorded = {
            f"studybot:{post.cohort_id}:{DAY}:{part}": ids["message_id"]
            for part, ids in post.message_ids.items()
        }
        assert recorded == {k: v for k, v in ts.items() if k in recorded}
        assert len(recorded) == len(expected) // COHORTS
    assert all(c.status == "finished" for c in claims)
    return list(claims)


async def test_a_bot_paused_past_its_lease_posts_nothing_twice_after_a_takeover(
    pg: dict[str, Any], slack: SlowSlack, bots: list[BotProcess], tmp_path: Path
) -> None:
    opts = {"tick": 0.2, "heartbeat": 0.3, "lease": 2.0}
    paused = asyncio.Event()
    total = len(expected_keys(pg["cohort_ids"]))

    def pause_first_bot(post: dict[str, Any]) -> None:
        # Each cohort's second post is stored and none answered yet: A is paused waiting on Slack.
        if slack.stored == 2 * COHORTS and not paused.is_set():
            bots[0].signal(signal.SIGSTOP)
            slack.timeline.append(f"{time.monotonic():.3f} A stopped")
            paused.set()

    slack.on_stored = pause_first_bot
    bots.append(await start_daily_bot("A", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts))
    async with asyncio.timeout(WAIT_S):
        await paused.wait()
    bots.append(await start_daily_bot("B", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts))
    everything = {(c, DAY) for c in pg["cohort_ids"]}

    def b_did_all_it_could(lines: list[dict[str, Any]]) -> bool:
        # a claim A was renewing at the instant it was paused stays locked, so busy, until A runs
        return bool(lines) and posted_by(bots[1]) | {tuple(c) for c in lines[-1]["busy"]} == (
            everything
        )

    await bots[1].wait_for(b_did_all_it_could)
    assert posted_by(bots[1]), bots[1].stderr()
    # A wakes up past its lease, with Slack's answers to posts it made before the pause.
    bots[0].signal(signal.SIGCONT)
    slack.timeline.append(f"{time.monotonic():.3f} A continued")
    await slack.wait_until(lambda: len(slack.keys()) >= total)
    await bots[0].wait_for(lambda lines: posted_by(bots[0]) | posted_by(bots[1]) == everything)
    await bots[0].wait_for(lambda lines: bool(lines) and not lines[-1]["busy"])
    lost = {tuple(c) for line in bots[0].lines for c in line["lost"]}
    # every claim B took over was refused to A: before its next send and at its next record
    assert lost == posted_by(bots[1]), bots[0].stderr()
    assert not posted_by(bots[0]) & posted_by(bots[1])
    claims = await assert_posted_exactly_once(pg, slack, bots)
    assert {c.holder for c in claims if c.epoch == 2} == {"B"}
    assert {c.holder for c in claims if c.epoch == 1} <= {"A"}


async def test_two_healthy_bots_on_a_slow_slack_keep_their_claims(
    pg: dict[str, Any], slack: SlowSlack, bots: list[BotProcess], tmp_path: Path
) -> None:
    # Every post takes 0.5 s and a day 6 of them: past the 2.5 s lease, had it not been
    # renewed from now at every step. Heartbeats are slow here: nobody is declared dead.
    opts = {"tick": 0.2, "heartbeat": 1.0, "lease": 2.5}
    total = len(expected_keys(pg["cohort_ids"]))
    bots.extend(
        await asyncio.gather(
            start_daily_bot("A", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts),
            start_daily_bot("B", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts),
        )
    )
    await slack.wait_until(lambda: len(slack.keys()) >= total)
    everything = {(c, DAY) for c in pg["cohort_ids"]}
    await bots[0].wait_for(lambda lines: posted_by(bots[0]) | posted_by(bots[1]) == everything)
    claims = await assert_posted_exactly_once(pg, slack, bots)
    assert all(c.epoch == 1 for c in claims)
    assert not any(line["lost"] for bot in bots for line in bot.lines)


async def test_a_killed_bot_restarted_resumes_its_day_by_heartbeat_not_lease(
    pg: dict[str, Any], slack: SlowSlack, bots: list[BotProcess], tmp_path: Path
) -> None:
    # The lease (120 s) is far longer than the 30 s the restart may take: only the dead
    # process's stale heartbeat can let its successor in that soon.
    opts = {"tick": 0.5, "heartbeat": 0.3, "lease": 120.0}
    killed = asyncio.Event()
    total = len(expected_keys(pg["cohort_ids"]))

    def kill_first_bot(post: dict[str, Any]) -> None:
        if slack.stored == 4 and not killed.is_set():
            bots[0].signal(signal.SIGKILL)
            killed.set()

    slack.on_stored = kill_first_bot
    bots.append(await start_daily_bot("A", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts))
    async with asyncio.timeout(WAIT_S):
        await killed.wait()
    restarted_at = datetime.now(UTC)
    bots.append(
        await start_daily_bot("A-again", db=pg, slack_url=slack.base_url, tmp=tmp_path, **opts)
    )
    await slack.wait_until(lambda: len(slack.keys()) >= total, within_s=30.0)
    everything = {(c, DAY) for c in pg["cohort_ids"]}
    await bots[1].wait_for(lambda lines: posted_by(bots[1]) == everything)
    claims = await assert_posted_exactly_once(pg, slack, bots)
    assert all(c.holder == "A-again" and c.epoch == 2 for c in claims)
    assert all(c.claimed_at < restarted_at + timedelta(seconds=30) for c in claims)
