"""A grade teller paused (SIGSTOP) past its lease while another takes over, then resumed, tells
no member a grade twice.

Real processes (`tests.chaos.grade_dm_bot`) on PostgreSQL, talking to the local mock Slack Web
API, which stores each DM at once and answers it a little later (as a slow Slack does). Process
A is stopped the instant its first grade DM is stored (or the instant it looked for one), before
Slack's answer reaches it. B takes the teller over once A's heartbeat is stale and tells everyone,
finding A's DM instead of sending it again. Then A resumes and must neither record nor send.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.services.answers import TELLER_CLAIM, grade_dm_key
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Answer, Cohort, Grade, Member, WorkClaim
from tests.support.bot_processes import WAIT_S, BotProcess, SlowSlack

pytestmark = pytest.mark.postgres
MEMBERS = 4


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[SlowSlack]:
    """The slow mock Slack Web API."""
    async with SlowSlack() as server:
        server.answer_delay_s = 0.3  # answered a little later than stored
        yield server
        print("\n".join(server.timeline))


@pytest_asyncio.fixture
async def processes() -> AsyncIterator[list[BotProcess]]:
    """Bot processes a test starts; every one is stopped at the end."""
    started: list[BotProcess] = []
    yield started
    for process in started:
        await process.close()
        print(f"--- {process.name} (shown when a test fails)\n{process.stderr()}")


@pytest_asyncio.fixture
async def graded(pg_url: str, pg_schema: str) -> AsyncIterator[dict[str, Any]]:
    """MEMBERS Slack members, each with an answer graded by a retry and not yet told."""
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    await _truncate_all(engine)
    sessions = make_session_factory(engine)
    earlier = datetime.now(UTC) - timedelta(minutes=5)
    async with sessions() as session:
        cohort = Cohort(
            name="Pause",
            platform="slack",
            workspace_id="T0TEAM001",
            channel_id="C1",
            start_date=earlier.date(),
        )
        session.add(cohort)
        await session.flush()
        ids: list[int] = []
        for i in range(MEMBERS):
            member = Member(cohort_id=cohort.id, platform_user_id=f"U0M{i}")
            session.add(member)
            await session.flush()
            answer = Answer(
                cohort_id=cohort.id,
                member_id=member.id,
                question_id="E1-005",
                text="Adam keeps two moments per parameter.",
                status="graded",
                created_at=earlier,
                graded_at=earlier,
                reply_to={"platform": "slack", "user_id": member.platform_user_id},
            )
            session.add(answer)
            await session.flush()
            assert answer.id is not None
            session.add(Grade(answer_id=answer.id, score=0.5, grader="offline", feedback="ok"))
            ids.append(answer.id)
        await session.commit()
    yield {"url": pg_url, "schema": pg_schema, "sessions": sessions, "ids": ids}
    await engine.dispose()


def bot_args(db: dict[str, Any], slack: SlowSlack, name: str) -> list[str]:
    """The command line of a grade-DM bot process."""
    return [
        *("--db-url", db["url"], "--schema", db["schema"], "--slack-url", slack.base_url),
        *("--process-id", name, "--tick", "0.2", "--heartbeat", "0.3", "--lease", "2.0"),
    ]


@pytest.mark.parametrize("pause_at", ["sent", "looked"])
async def test_a_grade_teller_paused_past_its_lease_tells_no_member_twice(
    graded: dict[str, Any],
    slack: SlowSlack,
    processes: list[BotProcess],
    tmp_path: Path,
    pause_at: str,
) -> None:
    paused = asyncio.Event()

    def pause_a(params: dict[str, Any]) -> None:
        # "sent": A's first DM is stored and not yet answered (it went out; A does not know).
        # "looked": A asked the member's conversation whether the DM is there, and will be
        # told "no" after the pause, when B has sent it meanwhile.
        if str(params.get("channel", "")).startswith("D") and not paused.is_set():
            processes[0].signal(signal.SIGSTOP)
            slack.timeline.append(f"{time.monotonic():.3f} A stopped ({pause_at})")
            paused.set()

    if pause_at == "sent":
        slack.on_stored = pause_a
    else:
        slack.on_history = pause_a
    module = "tests.chaos.grade_dm_bot"
    processes.append(await BotProcess.start(module, "A", bot_args(graded, slack, "A"), tmp_path))
    async with asyncio.timeout(WAIT_S):
        await paused.wait()
    processes.append(await BotProcess.start(module, "B", bot_args(graded, slack, "B"), tmp_path))
    expected = {grade_dm_key(i) for i in graded["ids"]}
    await processes[1].wait_for(lambda lines: sum(line["told"] for line in lines) == MEMBERS)
    # A wakes up past its lease, with Slack's answer to what it asked before the pause.
    processes[0].signal(signal.SIGCONT)
    slack.timeline.append(f"{time.monotonic():.3f} A continued")
    await processes[0].wait_for(lambda lines: len(lines) >= 2)
    logs = "\n".join(f"--- {p.name}\n{p.stderr()}" for p in processes)
    logs += "\n" + "\n".join(slack.timeline)
    assert slack.dm_keys() == Counter(dict.fromkeys(expected, 1)), logs
    assert sum(line["told"] for line in processes[0].lines) == 0, logs
    assert "took the grade teller over" in processes[0].stderr(), logs
    async with graded["sessions"]() as session:
        told = (await session.execute(select(Answer.told_at))).scalars().all()
        claim = (
            await session.execute(select(WorkClaim).where(WorkClaim.key == TELLER_CLAIM))
        ).scalar_one()
    assert all(at is not None for at in told) and len(told) == MEMBERS
    assert claim.epoch >= 2
