"""Submissions through real Celery workers on the local Redis: nothing lost, nothing twice.

Each test runs the bot's submission service on SQLite and PostgreSQL against `studybot worker`
processes (judging without timing, to stay fast). The broker is STUDYBOT_TEST_CELERY_REDIS_URL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from sqlmodel import select

from bot.clock import FakeClock
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.submissions import SubmissionService, job_id_for
from bot.store.models import PointsEvent, Submission
from tests.gpu_runner import test_runner_celery as celery_support
from tests.gpu_runner.test_runner_celery import Workers, _client

pytestmark = pytest.mark.redis
# The runner suite's fixtures: the Celery test database and real worker processes.
celery_url = celery_support.celery_url
workers = celery_support.workers

ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)
MEMBERS = [Actor("console", "local", "study", f"m{i}", f"M{i}") for i in range(3)]
KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)
WAIT_S = 120.0  # a bound for a broken run, not a pace: each wait returns as soon as it is done


@pytest.fixture
async def cohort(db: Any) -> Any:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    cohorts = CohortService(db.sessions, clock, days_total=133)
    await cohorts.setup(ADMIN, start_date="2026-12-01")
    for actor in MEMBERS:
        await cohorts.join(actor)
    return db, clock


def service(db: Any, clock: Any, url: str, holder: str) -> SubmissionService:
    """A bot process's submission service, talking to the Celery workers."""
    return SubmissionService(
        db.sessions, clock, _client(url), timing=False, holder=holder, max_dispatches=3
    )


async def stored(db: Any) -> tuple[list[Submission], list[PointsEvent]]:
    async with db.sessions() as session:
        subs = list((await session.execute(select(Submission))).scalars().all())
        points = list((await session.execute(select(PointsEvent))).scalars().all())
    return sorted(subs, key=lambda s: s.id or 0), points


async def test_a_submission_is_judged_end_to_end_by_a_worker(
    cohort: Any, workers: Workers, celery_url: str
) -> None:
    db, clock = cohort
    workers.start("w1")
    bot = service(db, clock, celery_url, "proc-a")
    try:
        sub = await bot.submit(MEMBERS[0], "kv_cache_bytes", KV)
        outcome = await bot.wait(sub.id, timeout_s=WAIT_S)
    finally:
        await bot.runner.close()
    assert outcome.recorded_now and outcome.submission.verdict == "passed"
    assert outcome.submission.result["worker"]  # judged by the worker, not in process
    subs, points = await stored(db)
    assert [(s.status, s.task_id, s.dispatches) for s in subs] == [("done", job_id_for(sub.id), 1)]
    assert [p.ref for p in points] == [f"drill:passed:{sub.id}"]


async def test_a_restarted_bot_records_every_result_of_jobs_in_flight_exactly_once(
    cohort: Any, workers: Workers, celery_url: str
) -> None:
    db, clock = cohort
    first = service(db, clock, celery_url, "proc-a")
    subs = [await first.submit(member, "kv_cache_bytes", KV) for member in MEMBERS]
    await first.runner.close()  # the bot stops with three jobs queued and nobody waiting
    workers.start("w1")
    restarted = service(db, clock, celery_url, "proc-b")
    try:
        for sub in subs:  # the worker finishes them while no bot records anything
            await restarted.runner.wait(job_id_for(sub.id), timeout_s=WAIT_S)
        report = await restarted.reconcile(min_age=timedelta(0))
        again = await restarted.reconcile(min_age=timedelta(0))
        redelivered = (await restarted.runner.status(subs[0].job_id)).result
        assert redelivered is not None
        late = await restarted.record(subs[0].id, redelivered)
    finally:
        await restarted.runner.close()
    assert report.collected == 3 and report.redispatched == 0
    assert again.collected == 0 and not late.recorded_now
    rows, points = await stored(db)
    assert [(s.status, s.verdict, s.dispatches) for s in rows] == [("done", "passed", 1)] * 3
    assert sorted(p.ref for p in points) == sorted(f"drill:passed:{s.id}" for s in subs)


async def test_a_flushed_broker_loses_the_job_and_the_reconciler_dispatches_it_again(
    cohort: Any, workers: Workers, celery_url: str
) -> None:
    db, clock = cohort
    bot = service(db, clock, celery_url, "proc-a")
    try:
        sub = await bot.submit(MEMBERS[0], "kv_cache_bytes", KV)
        assert (await bot.runner.status(sub.job_id)).state == "queued"
        redis.Redis.from_url(celery_url).flushdb()  # no worker took it yet: it is gone
        assert (await bot.runner.status(sub.job_id)).state == "unknown"
        report = await bot.reconcile(min_age=timedelta(0))
        assert report.redispatched == 1
        workers.start("w1")
        outcome = await bot.wait(sub.id, timeout_s=WAIT_S)
    finally:
        await bot.runner.close()
    assert outcome.recorded_now and outcome.submission.verdict == "passed"
    rows, points = await stored(db)
    assert [(s.status, s.dispatches) for s in rows] == [("done", 2)]
    assert [p.ref for p in points] == [f"drill:passed:{sub.id}"]
