"""A bot process paused (SIGSTOP) past its lease while another takes over, then resumed, sends
nothing twice: the submission reconciler's result DMs, and the mock rooms' timer announcements.

Real processes (`tests.chaos.result_dm_bot`) on PostgreSQL, talking to the local mock Slack Web
API, which stores each DM at once and answers it a little later (as a slow Slack does). Process
A is stopped the instant its first DM is stored, before Slack's answer reaches it: the DM went
out and A has not recorded it. B takes the reconciler over once A's heartbeat is stale and tells
everyone, finding A's DM instead of sending it again. Then A resumes, with Slack's answer in
hand and a list of members it had not told yet, and must neither record nor send anything.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.services.submissions import job_id_for, result_dm_key
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Cohort, Member, Submission, WorkClaim
from tests.chaos import test_mock_rooms_crash as mock_rooms
from tests.support.bot_processes import WAIT_S, BotProcess, SlowSlack

pytestmark = pytest.mark.postgres
fresh_pg = mock_rooms.fresh_pg  # a new migrated database: the mock timer worker takes a URL

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
async def judged(pg_url: str, pg_schema: str) -> AsyncIterator[dict[str, Any]]:
    """MEMBERS Slack members, each with a submission judged while nobody waited."""
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    await _truncate_all(engine)
    sessions = make_session_factory(engine)
    async with sessions() as session:
        cohort = Cohort(
            name="Pause",
            platform="slack",
            workspace_id="T0TEAM001",
            channel_id="C1",
            start_date=datetime.now(UTC).date(),
        )
        session.add(cohort)
        await session.flush()
        ids: list[int] = []
        for i in range(MEMBERS):
            member = Member(cohort_id=cohort.id, platform_user_id=f"U0M{i}")
            session.add(member)
            await session.flush()
            row = Submission(
                job_id=f"pending-{i}",
                cohort_id=cohort.id,
                member_id=member.id,
                drill_id="kv_cache_bytes",
                source="def kv_cache_bytes(): ...\n",
                status="done",
                verdict="passed",
                result={"message": "All 9 cases passed.", "cases_passed": 9, "cases_total": 9},
                finished_at=datetime.now(UTC),
                reply_to={"platform": "slack", "user_id": member.platform_user_id},
            )
            session.add(row)
            await session.flush()
            assert row.id is not None
            row.job_id = job_id_for(row.id)
            ids.append(row.id)
        await session.commit()
    yield {"url": pg_url, "schema": pg_schema, "sessions": sessions, "ids": ids}
    await engine.dispose()


def dm_bot_args(db: dict[str, Any], slack: SlowSlack, name: str) -> list[str]:
    """The command line of a result-DM bot process."""
    return [
        *("--db-url", db["url"], "--schema", db["schema"], "--slack-url", slack.base_url),
        *("--process-id", name, "--tick", "0.2", "--heartbeat", "0.3", "--lease", "2.0"),
    ]


@pytest.mark.parametrize("pause_at", ["sent", "looked"])
async def test_a_reconciler_paused_past_its_lease_tells_no_member_twice(
    judged: dict[str, Any],
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
    module = "tests.chaos.result_dm_bot"
    processes.append(await BotProcess.start(module, "A", dm_bot_args(judged, slack, "A"), tmp_path))
    async with asyncio.timeout(WAIT_S):
        await paused.wait()
    processes.append(await BotProcess.start(module, "B", dm_bot_args(judged, slack, "B"), tmp_path))
    expected = {result_dm_key(i) for i in judged["ids"]}
    await processes[1].wait_for(lambda lines: sum(line["notified"] for line in lines) == MEMBERS)
    # A wakes up past its lease, with Slack's answer to what it asked before the pause.
    processes[0].signal(signal.SIGCONT)
    slack.timeline.append(f"{time.monotonic():.3f} A continued")
    await processes[0].wait_for(lambda lines: len(lines) >= 2)
    logs = "\n".join(f"--- {p.name}\n{p.stderr()}" for p in processes)
    logs += "\n" + "\n".join(slack.timeline)
    assert slack.dm_keys() == Counter(dict.fromkeys(expected, 1)), logs
    assert sum(line["notified"] for line in processes[0].lines) == 0, logs
    assert "took the submission reconciler over" in processes[0].stderr(), logs
    async with judged["sessions"]() as session:
        told = (await session.execute(select(Submission.notified))).scalars().all()
        claim = (
            await session.execute(
                select(WorkClaim).where(WorkClaim.key == "submissions:reconciler")
            )
        ).scalar_one()
    assert told == [True] * MEMBERS
    assert claim.epoch >= 2


MOCK_ROOMS = 2


async def recorded_by(sessions: Any, room_id: int, key: str) -> str | None:
    """Return the process that recorded a room's announcement, if one did."""
    from bot.store.models import MockAnnouncement

    async with sessions() as session:
        row = (
            await session.execute(
                select(MockAnnouncement).where(
                    MockAnnouncement.room_id == room_id, MockAnnouncement.key == key
                )
            )
        ).scalar_one_or_none()
    return None if row is None else row.holder


MOCK_SPEED = 150.0  # 45 fast minutes in 18 real seconds; a lease of 60 fast seconds is 0.4 s


def test_a_mock_timer_paused_past_its_lease_announces_no_boundary_twice(fresh_pg: str) -> None:
    async def scenario() -> None:
        async with SlowSlack() as slack:
            slack.answer_delay_s = 0.3  # answered a little later than stored
            try:
                await pause_a_timer(slack)
            finally:
                print("\n".join(slack.timeline))

    async def pause_a_timer(slack: SlowSlack) -> None:
        from bot.clock import FakeClock
        from bot.mock_demo import DEMO_START, _go, _service, _spawn

        engine, sessions, rooms = await mock_rooms.set_up_rooms(fresh_pg, MOCK_ROOMS)
        spawn = [(fresh_pg, name, MOCK_SPEED, (slack.base_url, slack.token)) for name in "AB"]
        a, b = await asyncio.gather(*(asyncio.to_thread(_spawn, *args) for args in spawn))
        paused = asyncio.Event()
        targets = {f"mock:{room_id}:phase:high-level-design" for room_id, _ in rooms}
        stored: set[str] = set()

        def pause_a(params: dict[str, Any]) -> None:
            # A's posts of a boundary, one a room, are stored and none is answered yet: A has
            # not recorded them. (Stopped at the first of them instead, A may be stopped
            # between its last fence check and the request of another room's post: a request
            # written after A resumes, which no check made before it can call back.)
            key = (params.get("metadata") or {}).get("event_payload", {}).get("key")
            if key in targets:
                stored.add(key)
            if stored == targets and not paused.is_set():
                a.send_signal(signal.SIGSTOP)
                slack.timeline.append(f"{time.monotonic():.3f} A stopped")
                paused.set()

        slack.on_stored = pause_a
        try:
            anchor = time.time() + 0.5
            members = _service(sessions, FakeClock(DEMO_START), "members", {})
            for _, interviewer in rooms:
                await members.start(interviewer)
            _go(a, anchor)
            async with asyncio.timeout(WAIT_S):
                await paused.wait()
            _go(b, anchor)  # B serves from now on; A's claims run out while it is stopped
            # A resumes once B has recorded the boundary A was stopped in the middle of.
            async with asyncio.timeout(WAIT_S):
                for room_id, _ in rooms:
                    for _ in itertools.count():  # a database row has no event to wait on
                        if await recorded_by(sessions, room_id, "phase:high-level-design"):
                            break
                        await asyncio.sleep(0.05)
            a.send_signal(signal.SIGCONT)
            slack.timeline.append(f"{time.monotonic():.3f} A continued")
            for proc in (a, b):
                await asyncio.to_thread(proc.wait, 60 * 60 / MOCK_SPEED + 60)
        finally:
            for proc in (a, b):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGCONT)
                    proc.kill()
                    proc.wait()
            await engine.dispose()  # type: ignore[attr-defined]
        mock_rooms.said_on_slack(slack, [room_id for room_id, _ in rooms])

    asyncio.run(scenario())
