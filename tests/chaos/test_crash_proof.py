"""The crash proof: real bot processes SIGKILLed at seeded random points lose and double nothing.

Each round seeds PostgreSQL with Slack cohorts (COHORTS in the one-process round) whose day is
due now and ANSWERS pending answers (one per member), then runs `tests.chaos.chaos_bot`
processes against the local mock Slack Web API. At KILLS seeded points in the stream of stored
posts a process is SIGKILLed and a warm spare takes its place. When the work is done (every
grade told, not only decided): every cohort got every part of the day exactly once and its record
names those messages, every answer has exactly one grade and one points event, and its member was
told it by exactly one DM. Rounds: one process; two processes at once; one process with Slack
answering 429 and 500 (some 500s after storing the message).

Figures (kills, longest recovery, lost or doubled DMs, wall time) are printed per round:
`pytest tests/chaos -s`. The seed is STUDYBOT_CHAOS_SEED (default below); a failure prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlmodel import col

from bot.services.daily import compose_day
from bot.services.submissions import job_id_for, result_dm_key
from bot.store.engine import make_engine, make_session_factory
from bot.store.models import Answer, Cohort, DayPost, Grade, Member, PointsEvent, Submission
from content import load_library
from tests.gpu_runner import test_runner_celery as celery_support
from tests.support.slack_api_server import MockSlackApi

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
# The runner suite's fixtures: the Celery test database and real worker processes.
celery_url = celery_support.celery_url
workers = celery_support.workers
SEED = int(os.environ.get("STUDYBOT_CHAOS_SEED", "20261202"))
DAY = 2
COHORTS = 200
ANSWERS = 100
KILLS = 12
# Cohorts per round: the full 200 with one process; the pair and fault rounds, which prove
# races and retries rather than volume, post to fewer so the suite stays within its CI budget.
ROUND_COHORTS = {"single": COHORTS, "pair": 60, "faults": 60, "judge": 10}
ROUND_BUDGET_S = {"single": 210.0, "pair": 120.0, "faults": 120.0, "judge": 150.0}
SUBMISSIONS = 20
KV_SOURCE = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


class CountingSlack(MockSlackApi):
    """The mock Slack Web API, calling `on_stored` with the count after each stored post."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.stored = 0
        self.stored_at: list[float] = []
        self.on_stored: Callable[[int], None] | None = None
        self.changed = asyncio.Event()

    async def _m_chat_postMessage(self, call: Any, params: dict[str, Any]) -> Any:
        answer = await super()._m_chat_postMessage(call, params)
        if call.error is None:
            self.stored += 1
            self.stored_at.append(time.monotonic())
            self.changed.set()
            if self.on_stored is not None:
                self.on_stored(self.stored)
        return answer

    def day_keys(self) -> Counter[str]:
        """Count the day's posts per idempotency key."""
        return Counter(
            m["metadata"]["event_payload"]["key"]
            for channel, messages in self.messages.items()
            if channel.startswith("C")
            for m in messages
            if m.get("metadata", {}).get("event_type") == "studybot_post"
        )

    def dms(self, *, drills: bool = False) -> dict[str, int]:
        """Count the grade (or, with `drills`, drill result) messages sent to each member."""
        counts: dict[str, int] = {}
        for channel, messages in self.messages.items():
            if not channel.startswith("D"):
                continue
            mine = [m for m in messages if ("kv_cache_bytes" in json.dumps(m)) == drills]
            if mine:
                counts[channel] = len(mine)
        return counts


class BotProcess:
    """One chaos bot subprocess, started warm and serving once told to go."""

    def __init__(self, proc: asyncio.subprocess.Process, name: str, log: Path) -> None:
        self.proc = proc
        self.name = name
        self.log = log
        self.warm = asyncio.Event()
        self.ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def spawn(
        cls, name: str, *, db: dict[str, Any], slack_url: str, tmp: Path, runner_url: str = ""
    ) -> BotProcess:
        """Start a process and wait until it is warm (imported, built, not yet serving)."""
        log = tmp / f"{name}.log"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.chaos.chaos_bot",
            "--db-url",
            db["url"],
            "--schema",
            db["schema"],
            "--slack-url",
            slack_url,
            "--process-id",
            name,
            "--wait-for-go",
            *(["--runner-url", runner_url] if runner_url else []),
            cwd=ROOT,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=log.open("w"),
        )
        bot = cls(proc, name, log)
        async with asyncio.timeout(90):
            await bot.warm.wait()
        return bot

    async def go(self) -> None:
        """Let a warm process serve and wait until its heartbeat is registered."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"GO\n")
        await self.proc.stdin.drain()
        async with asyncio.timeout(60):
            await self.ready.wait()

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            if raw.strip() == b"WARM":
                self.warm.set()
            elif raw.strip() == b"READY":
                self.ready.set()

    async def kill(self) -> None:
        """SIGKILL the process and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()
        await self._stop_reader()

    async def close(self) -> None:
        """Stop the process gracefully (killing it if it hangs)."""
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        await self._stop_reader()

    async def _stop_reader(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@dataclass
class RoundReport:
    """What one round measured."""

    name: str
    kills: int = 0
    recoveries_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    dms_lost: int = 0
    dms_doubled: int = 0
    # later copies of a post withdrawn by the process that found another's copy first
    withdrawn: int = 0

    def line(self) -> str:
        """Render the figures in one line."""
        worst = max(self.recoveries_s, default=0.0)
        return (
            f"chaos round {self.name} (seed {SEED}): {self.kills} kills, longest recovery "
            f"{worst:.2f} s, grade DMs lost {self.dms_lost}, doubled {self.dms_doubled}, "
            f"posts withdrawn {self.withdrawn}, wall {self.wall_s:.1f} s"
        )


def rubric_questions() -> list[str]:
    """Return question ids that have a rubric (so answers are graded, not self-checked)."""
    library = load_library()
    found: list[str] = []
    for day in range(1, library.days_total + 1):
        for question in library.day(day).questions:
            if library.rubric_for(question.id) and question.id not in found:
                found.append(question.id)
        if len(found) >= 5:
            return found
    return found


@pytest_asyncio.fixture
async def seeded(
    pg_url: str, pg_schema: str
) -> AsyncIterator[Callable[[int], Awaitable[dict[str, Any]]]]:
    """Seed the emptied schema: `cohorts` due cohorts and ANSWERS pending answers."""
    from tests.conftest import _truncate_all

    engine = make_engine(pg_url, schema=pg_schema)
    sessions = make_session_factory(engine)

    async def seed(cohort_count: int) -> dict[str, Any]:
        await _truncate_all(engine)
        due = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=2)
        questions = rubric_questions()
        assert questions
        async with sessions() as session:
            cohorts = [
                Cohort(
                    name=f"Cohort {i}",
                    platform="slack",
                    workspace_id="T0TEAM001",
                    channel_id=f"C{i:04d}",
                    timezone="UTC",
                    post_time=due.time(),
                    start_date=due.date() - timedelta(days=DAY - 1),
                )
                for i in range(cohort_count)
            ]
            session.add_all(cohorts)
            await session.flush()
            # ANSWERS members, one answer each, spread over the cohorts
            members = [
                Member(cohort_id=cohorts[i % cohort_count].id, platform_user_id=f"U{i:04d}")
                for i in range(ANSWERS)
            ]
            session.add_all(members)
            await session.flush()
            session.add_all(
                Answer(
                    cohort_id=m.cohort_id,
                    member_id=m.id,
                    question_id=questions[i % len(questions)],
                    text=f"Answer {i}: batching amortises weight reads across requests.",
                    source="command",
                    reply_to={"platform": "slack", "user_id": m.platform_user_id},
                    created_at=due,
                )
                for i, m in enumerate(members)
            )
            await session.commit()
            ids = list((await session.execute(select(Cohort.id))).scalars())
        return {"url": pg_url, "schema": pg_schema, "sessions": sessions, "cohort_ids": ids}

    yield seed
    await engine.dispose()


Seed = Callable[[int], Awaitable[dict[str, Any]]]


def expected_keys(cohort_ids: list[int]) -> set[str]:
    """Return the idempotency key of every part every cohort must post."""
    parts = compose_day(load_library().day(DAY))
    return {f"studybot:{c}:{DAY}:{m.key}" for c in cohort_ids for m in parts}


async def work_left(db: dict[str, Any], slack: CountingSlack, expected: set[str]) -> bool:
    """Tell whether any post or grade is still to be made."""
    if set(slack.day_keys()) != expected:
        return True
    async with db["sessions"]() as session:
        # an answer is done once graded and its member told (a grade DM kept for later is not)
        pending = await session.scalar(
            select(func.count())
            .select_from(Answer)
            .where((Answer.status == "pending") | col(Answer.told_at).is_(None))
        )
        open_posts = await session.scalar(
            select(func.count()).select_from(DayPost).where(DayPost.status != "posted")
        )
        queued = await session.scalar(
            select(func.count())
            .select_from(Submission)
            .where((Submission.status != "done") | col(Submission.notified).is_(False))
        )
    return bool(pending) or bool(open_posts) or bool(queued)


async def describe_left(db: dict[str, Any], slack: CountingSlack, expected: set[str]) -> str:
    """Say what work a round left undone."""
    async with db["sessions"]() as session:
        answers = Counter((await session.execute(select(Answer.status))).scalars())
        posts = Counter((await session.execute(select(DayPost.status))).scalars())
    missing = len(expected - set(slack.day_keys()))
    return f"{missing} posts missing in Slack, day posts {dict(posts)}, answers {dict(answers)}"


async def run_round(
    name: str,
    db: dict[str, Any],
    slack: CountingSlack,
    tmp: Path,
    *,
    processes: int,
    runner_url: str = "",
    kill_gap_s: tuple[float, float] | None = None,
) -> RoundReport:
    """Run bots, kill them at seeded points, restart them, until the work is done."""
    rng = random.Random(f"{SEED}:{name}")
    expected = expected_keys(db["cohort_ids"])
    # kill points in the stream of stored posts, spread over the day's posts
    points = [] if kill_gap_s else sorted(rng.sample(range(5, len(expected) - 5), KILLS))
    kill_due = asyncio.Event()
    owed = [0]  # kill points passed and not yet acted on (several may pass at once)

    def on_stored(count: int) -> None:
        while points and count >= points[0]:
            points.pop(0)
            owed[0] += 1
            kill_due.set()

    slack.on_stored = on_stored
    report = RoundReport(name)
    started = time.monotonic()

    def spare(number: int) -> asyncio.Task[BotProcess]:
        return asyncio.create_task(
            BotProcess.spawn(
                f"{name}-{number}", db=db, slack_url=slack.base_url, tmp=tmp, runner_url=runner_url
            )
        )

    bots = list(await asyncio.gather(*(spare(n) for n in range(processes))))
    for bot in bots:
        await bot.go()
    generation = processes
    next_spare = spare(generation)
    try:
        async with asyncio.timeout(ROUND_BUDGET_S[name]):
            while True:
                if kill_gap_s is not None and report.kills < KILLS:
                    # kill points in time (the judging emits few posts to count)
                    await asyncio.sleep(rng.uniform(*kill_gap_s))
                    owed[0] = max(owed[0], 1)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(kill_due.wait(), timeout=0.5)
                if owed[0] and report.kills < KILLS:
                    owed[0] -= 1
                    if not owed[0]:
                        kill_due.clear()
                    slot = rng.randrange(len(bots))
                    await bots[slot].kill()
                    killed_at, stored_then = time.monotonic(), slack.stored
                    report.kills += 1
                    bots[slot] = await next_spare
                    await bots[slot].go()
                    generation += 1
                    next_spare = spare(generation)
                    # recovery: from the kill to the next post stored by any process
                    while slack.stored == stored_then and await work_left(db, slack, expected):
                        slack.changed.clear()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(slack.changed.wait(), timeout=0.5)
                    if slack.stored > stored_then:
                        report.recoveries_s.append(slack.stored_at[stored_then] - killed_at)
                    continue
                if not await work_left(db, slack, expected):
                    break
    except TimeoutError:
        raise AssertionError(
            f"seed {SEED}: round {name} unfinished after {ROUND_BUDGET_S[name]:.0f} s: "
            f"{await describe_left(db, slack, expected)}\n{process_logs(tmp)}"
        ) from None
    finally:
        bots.append(await next_spare)
        for bot in bots:
            await bot.close()
    report.wall_s = time.monotonic() - started
    return report


def process_logs(tmp: Path) -> str:
    """Return the end of every bot process's log, for a failure message."""
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(tmp.glob("*.log")))


async def assert_exactly_once(
    db: dict[str, Any], slack: CountingSlack, report: RoundReport, tmp: Path
) -> None:
    """Every post once in Slack and recorded; every answer one grade, one points event."""
    logs = process_logs(tmp)
    expected = expected_keys(db["cohort_ids"])
    keys = slack.day_keys()
    assert set(keys) == expected, f"seed {SEED}: lost posts\n{logs}"
    assert [k for k, n in keys.items() if n != 1] == [], f"seed {SEED}: doubled posts\n{logs}"
    ts = {
        m["metadata"]["event_payload"]["key"]: m["ts"]
        for channel, messages in slack.messages.items()
        if channel.startswith("C")
        for m in messages
        if m.get("metadata", {}).get("event_type") == "studybot_post"
        and m["metadata"]["event_payload"].get("chunk", 0) == 0
    }
    async with db["sessions"]() as session:
        posts = (await session.execute(select(DayPost))).scalars().all()
        answers = (await session.execute(select(Answer))).scalars().all()
        grades = Counter((await session.execute(select(Grade.answer_id))).scalars())
        points = Counter((await session.execute(select(PointsEvent.ref))).scalars())
    assert sorted(p.cohort_id for p in posts) == sorted(db["cohort_ids"])
    for post in posts:
        assert post.status == "posted", f"seed {SEED}: {post}"
        for part, ids in post.message_ids.items():
            assert ids["message_id"] == ts[f"studybot:{post.cohort_id}:{DAY}:{part}"]
    assert len(answers) == ANSWERS
    for answer in answers:
        assert answer.status == "graded", f"seed {SEED}: {answer.id} {answer.status}"
        assert grades[answer.id] == 1, f"seed {SEED}: answer {answer.id} grades"
        assert points[f"answer:{answer.id}"] == 1, f"seed {SEED}: answer {answer.id} points"
    assert sum(grades.values()) == ANSWERS
    dms = slack.dms()
    per_grade = Counter(dms.values()).most_common(1)[0][0] if dms else 0
    report.dms_lost = ANSWERS - len(dms)
    report.withdrawn = len(slack.deleted)
    report.dms_doubled = sum(1 for n in dms.values() if n > per_grade)
    print(report.line())
    assert report.kills >= 10, report.line()
    assert report.dms_doubled == 0, report.line()
    assert report.dms_lost == 0, report.line()
    assert all(answer.told_at is not None for answer in answers), report.line()


async def test_one_bot_killed_at_seeded_points_loses_and_doubles_nothing(
    seeded: Seed, tmp_path: Path
) -> None:
    async with CountingSlack() as slack:
        db = await seeded(ROUND_COHORTS["single"])
        report = await run_round("single", db, slack, tmp_path, processes=1)
        await assert_exactly_once(db, slack, report, tmp_path)


async def test_two_bots_at_once_killed_at_seeded_points_lose_and_double_nothing(
    seeded: Seed, tmp_path: Path
) -> None:
    async with CountingSlack() as slack:
        db = await seeded(ROUND_COHORTS["pair"])
        report = await run_round("pair", db, slack, tmp_path, processes=2)
        await assert_exactly_once(db, slack, report, tmp_path)


async def test_killed_bots_on_a_slack_answering_429_and_500_lose_and_double_nothing(
    seeded: Seed, tmp_path: Path
) -> None:
    async with CountingSlack() as slack:
        db = await seeded(ROUND_COHORTS["faults"])
        slack.rate_limit(4, retry_after=1, method="chat.postMessage", from_call=60)
        slack.fail(method="chat.postMessage", status=500, nth=150, times=3)
        # accepted, then the answer lost: the retry must find it instead of posting again
        slack.fail(method="chat.postMessage", status=500, nth=250, times=2, after_accept=True)
        report = await run_round("faults", db, slack, tmp_path, processes=1)
        await assert_exactly_once(db, slack, report, tmp_path)
        assert slack.rate_limited >= 1


async def seed_submissions(db: dict[str, Any]) -> None:
    """Store SUBMISSIONS queued drill submissions never dispatched (a crash right after submit)."""
    async with db["sessions"]() as session:
        members = list((await session.execute(select(Member).limit(SUBMISSIONS))).scalars())
        for i, member in enumerate(members):
            row = Submission(
                job_id=f"pending-{i}",
                cohort_id=member.cohort_id,
                member_id=member.id,
                drill_id="kv_cache_bytes",
                source=KV_SOURCE,
                reply_to={"platform": "slack", "user_id": member.platform_user_id},
            )
            session.add(row)
            await session.flush()
            row.job_id = job_id_for(row.id or 0)
        await session.commit()


async def test_killed_bots_judging_through_celery_record_every_result_once(
    seeded: Seed, tmp_path: Path, celery_url: str, workers: Any
) -> None:
    workers.start("chaos-w1")
    workers.start("chaos-w2")
    async with CountingSlack() as slack:
        db = await seeded(ROUND_COHORTS["judge"])
        await seed_submissions(db)
        report = await run_round(
            "judge", db, slack, tmp_path, processes=1, runner_url=celery_url, kill_gap_s=(0.5, 2.5)
        )
        await assert_exactly_once(db, slack, report, tmp_path)
    async with db["sessions"]() as session:
        subs = list((await session.execute(select(Submission))).scalars())
        refs = Counter(
            ref
            for ref in (await session.execute(select(PointsEvent.ref))).scalars()
            if ref.startswith("drill:")
        )
    assert len(subs) == SUBMISSIONS
    for sub in subs:
        assert (sub.status, sub.verdict) == ("done", "passed"), f"seed {SEED}: {sub}"
        assert sub.result.get("worker"), "judged by a Celery worker"
        assert sum(n for ref, n in refs.items() if ref.endswith(f":{sub.id}")) == 1
    told = slack.dms(drills=True)
    per_result = Counter(told.values()).most_common(1)[0][0] if told else 0
    doubled = sum(1 for n in told.values() if n > per_result)
    keys = Counter(
        m["metadata"]["event_payload"]["key"]
        for channel, messages in slack.messages.items()
        if channel.startswith("D")
        for m in messages
        if m.get("metadata", {}).get("event_payload", {}).get("key", "").startswith("drill:result:")
    )
    print(
        f"judge round: {SUBMISSIONS} submissions, dispatches {[s.dispatches for s in subs]}, "
        f"result DMs lost {SUBMISSIONS - len(told)}, doubled {doubled}"
    )
    # Every result told exactly once: a kill between the DM and its record is found again.
    assert all(sub.notified for sub in subs), f"seed {SEED}: results not told"
    assert set(keys) == {result_dm_key(sub.id or 0) for sub in subs}, f"seed {SEED}: {keys}"
    assert [k for k, n in keys.items() if n != 1] == [], f"seed {SEED}: doubled {keys}"
    assert (len(told), doubled) == (SUBMISSIONS, 0)
