"""Drill submissions: checked before queueing, stored before dispatch, recorded once, ranked.

The runner is faked at its port (`RunnerClient`): these tests are about what the bot stores,
awards and says. `test_submissions_celery.py` drives the same service through real workers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.errors import StudyBotError
from bot.messages import Channel, Message, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.submissions import SubmissionService, job_id_for, render_outcome
from bot.store.models import PointsEvent, Submission
from gpu_runner.client import JobStatus
from gpu_runner.protocol import Refusal, RunJob, RunResult, Timing, TimingStats

ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)
BOB = Actor("console", "local", "study", "bob", "Bob")
CAT = Actor("console", "local", "study", "cat", "Cat")
DAN = Actor("console", "local", "study", "dan", "Dan")
STRANGER = Actor("console", "local", "study", "eve", "Eve")
KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


class FakeRunner:
    """The runner port: remembers dispatched jobs; the test decides their fate."""

    def __init__(self, sessions: Any = None) -> None:
        self.jobs: dict[str, RunJob] = {}
        self.dispatches: list[str] = []
        self.states: dict[str, JobStatus] = {}
        self.sessions = sessions
        self.seen_rows_at_dispatch: list[str | None] = []

    async def dispatch(self, job: RunJob) -> str:
        if self.sessions is not None:  # what another process would see right now
            async with self.sessions() as session:
                row = await session.get(Submission, int(job.submission_id or 0))
                self.seen_rows_at_dispatch.append(row.status if row else None)
        self.jobs[job.job_id] = job
        self.dispatches.append(job.job_id)
        self.states[job.job_id] = JobStatus(job.job_id, "queued", position=0)
        return job.job_id

    def finish(self, task_id: str, answer: RunResult | Refusal) -> None:
        self.states[task_id] = JobStatus(task_id, "done", result=answer)

    def lose(self, task_id: str) -> None:
        self.states[task_id] = JobStatus(task_id, "unknown")

    async def status(self, task_id: str) -> JobStatus:
        return self.states.get(task_id, JobStatus(task_id, "unknown"))

    async def wait(self, task_id: str, *, timeout_s: Any = None, on_status: Any = None) -> Any:
        status = self.states[task_id]
        if on_status is not None:
            await on_status(JobStatus(task_id, "queued", position=2))
            await on_status(JobStatus(task_id, "running", progress="checking case 3/9"))
        assert status.state == "done" and status.result is not None
        from gpu_runner.client import unwrap

        return unwrap(status.result)

    async def close(self) -> None:
        pass


class Channels:
    """The platform boundary: channel posts and DMs."""

    platform = "console"

    def __init__(self) -> None:
        self.posts: list[tuple[Channel, Message, str]] = []
        self.dms: list[tuple[str, Message]] = []

    async def post(self, channel: Channel, message: Message, *, idempotency_key: str) -> Any:
        self.posts.append((channel, message, idempotency_key))
        return SentMessage("m1", channel.channel_id)

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        self.dms.append((user_id, message))
        return SentMessage("dm1", user_id)

    async def find_dm(self, user_id: str, idempotency_key: str) -> None:
        return None

    async def find_posted(self, channel: Channel, idempotency_key: str) -> None:
        return None

    async def reply_in_thread(self, channel: Channel, thread_id: str, message: Message) -> Any:
        raise AssertionError("not used")

    async def edit(self, sent: SentMessage, message: Message) -> None:
        raise AssertionError("not used")


def result(
    job: RunJob, verdict: str = "passed", *, time_s: float | None = None, noise_s: float = 0.0
) -> RunResult:
    """Build the judge's answer for a job (timed when time_s is given)."""
    timing = None
    if time_s is not None:
        stats = TimingStats(
            runs=50, processes=1, median=time_s * 2, mean=time_s * 2, stderr=0.0,
            best=time_s * 2, worst=time_s * 2, spread=0.0,
        )  # fmt: skip
        timing = Timing(
            case="big", device="cpu", method="wall", runs=50, processes=1, median=time_s,
            mean=time_s, stderr=noise_s, best=time_s, worst=time_s, spread=0.0,
            reference=stats, speedup=2.0, tie_with_reference=False,
        )  # fmt: skip
    return RunResult(
        job_id=job.job_id,
        drill=job.drill,
        verdict=verdict,  # type: ignore[arg-type]
        message="All 9 cases passed." if verdict == "passed" else "Case 2: wrong value.",
        cases_passed=9 if verdict == "passed" else 1,
        cases_total=9,
        timing=timing,
        sandbox="bwrap",
    )


@pytest.fixture
async def env(db: Any) -> Any:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    cohorts = CohortService(db.sessions, clock, days_total=133)
    await cohorts.setup(ADMIN, start_date="2026-12-01")
    for actor in (BOB, CAT, DAN):
        await cohorts.join(actor)
    runner = FakeRunner(db.sessions)
    channels = Channels()
    service = SubmissionService(
        db.sessions,
        clock,
        runner,  # type: ignore[arg-type]
        publishers={"console": channels},  # type: ignore[dict-item]
        hourly_cap=3,
        max_dispatches=2,
        holder="proc-a",
    )
    return db, clock, runner, channels, service


async def rows(db: Any, model: Any) -> list[Any]:
    async with db.sessions() as session:
        return list((await session.execute(select(model))).scalars().all())


async def judged(env: Any, actor: Actor, **kw: Any) -> Any:
    """Submit KV as `actor`, let the runner answer with `kw`, and wait for the outcome."""
    _, clock, runner, _, service = env
    sub = await service.submit(actor, "kv_cache_bytes", KV)
    job = runner.jobs[job_id_for(sub.id)]
    runner.finish(job.job_id, result(job, **kw))
    outcome = await service.wait(sub.id)
    clock.advance(1200)  # under the hourly cap
    return outcome


@pytest.mark.parametrize(
    ("drill", "data", "says"),
    [
        ("kv_cache_bytes", "x = 1\n" + "#" * 70_000, "at most 64 KB"),
        ("kv_cache_bytes", b"def kv_cache_bytes():\n    return '\xff'\n", "not UTF-8"),
        ("kv_cache_bytes", "def kv_cache_bytes(:\n    pass\n", "syntax error on line 1"),
        ("kv_cache_bytes", "def kv_bytes(a):\n    return a\n", "no function named"),
        ("lru_cache", "def LRUCache():\n    pass\n\nclass Other: ...\n", None),
        ("lru_cache", "class Cache:\n    pass\n", "no class named 'LRUCache'"),
        ("softmaxx", "def softmax(x):\n    return x\n", "softmaxx"),
        ("kv_cache_bytes", "   \n", "empty"),
    ],
)
async def test_bad_files_are_refused_before_anything_is_queued(
    env: Any, drill: str, data: Any, says: str | None
) -> None:
    db, _, runner, _, service = env
    if says is None:  # a function of the class's name still defines the name: accepted
        await service.submit(BOB, drill, data)
        assert len(runner.dispatches) == 1
        return
    with pytest.raises(StudyBotError) as caught:
        await service.submit(BOB, drill, data)
    assert says in str(caught.value)
    assert str(caught.value).count("\n") == 0 and caught.value.hint  # one sentence and the fix
    assert await rows(db, Submission) == [] and runner.dispatches == []


async def test_a_second_submission_in_flight_and_the_hourly_cap_are_refused(env: Any) -> None:
    db, clock, runner, _, service = env
    first = await service.submit(BOB, "kv_cache_bytes", KV)
    with pytest.raises(StudyBotError, match="still being judged"):
        await service.submit(BOB, "softmax", "def softmax(x):\n    return x\n")
    await service.submit(CAT, "kv_cache_bytes", KV)  # others are not held up
    runner.finish(first.job_id, result(runner.jobs[first.job_id], "wrong"))
    await service.wait(first.id)
    for _ in range(2):
        sub = await service.submit(BOB, "kv_cache_bytes", KV)
        runner.finish(sub.job_id, result(runner.jobs[sub.job_id], "wrong"))
        await service.wait(sub.id)
    with pytest.raises(StudyBotError, match="limit is 3") as caught:
        await service.submit(BOB, "kv_cache_bytes", KV)
    assert "later in the hour" in str(caught.value)
    clock.advance(3601)
    await service.submit(BOB, "kv_cache_bytes", KV)
    assert len(await rows(db, Submission)) == 5


async def test_only_members_of_the_channels_cohort_submit(env: Any) -> None:
    db, _, _, _, service = env
    with pytest.raises(StudyBotError, match="not a member"):
        await service.submit(STRANGER, "kv_cache_bytes", KV)
    assert await rows(db, Submission) == []


async def test_the_row_is_committed_queued_before_dispatch_and_the_task_id_after(
    env: Any,
) -> None:
    db, _, runner, _, service = env
    sub = await service.submit(BOB, "kv_cache_bytes", KV)
    assert runner.seen_rows_at_dispatch == ["queued"]
    job = runner.jobs[job_id_for(sub.id)]
    assert job.submission_id == str(sub.id) and job.device_kind == "cpu" and job.drill
    (row,) = await rows(db, Submission)
    assert row.status == "queued" and row.task_id == job.job_id and row.dispatches == 1


async def test_a_result_seen_twice_is_recorded_and_awarded_once(env: Any) -> None:
    db, _, runner, channels, service = env
    sub = await service.submit(BOB, "kv_cache_bytes", KV)
    answer = result(runner.jobs[sub.job_id], time_s=0.010, noise_s=0.0001)
    first = await service.record(sub.id, answer)
    again = await service.record(sub.id, answer)  # a redelivered job, or the reconciler
    assert first.recorded_now and not again.recorded_now
    points = await rows(db, PointsEvent)
    assert sorted(p.ref for p in points) == [f"drill:first:{sub.id}", f"drill:passed:{sub.id}"]
    assert sum(p.points for p in points) == first.points == 25
    assert len(channels.posts) == 1  # the new first place is announced once
    (row,) = await rows(db, Submission)
    assert row.status == "done" and row.verdict == "passed" and row.time_s == 0.010


async def test_a_wrong_answer_earns_nothing_and_a_refusal_is_not_a_verdict(env: Any) -> None:
    db, _, runner, _, service = env
    wrong = await judged(env, BOB, verdict="wrong")
    assert wrong.submission.verdict == "wrong" and wrong.points == 0 and wrong.rank is None
    sub = await service.submit(BOB, "kv_cache_bytes", KV, device_kind="cuda-h100")
    runner.finish(sub.job_id, Refusal(job_id=sub.job_id, reason="no worker serves cuda-h100"))
    refused = await service.wait(sub.id)
    assert refused.submission.status == "failed" and refused.submission.verdict is None
    assert "no worker serves cuda-h100" in (render_outcome(refused).messages[0].text or "")
    assert await rows(db, PointsEvent) == []


async def test_board_ranks_by_time_ties_within_noise_and_announces_a_new_leader(
    env: Any,
) -> None:
    db, _, _, channels, service = env
    bob = await judged(env, BOB, time_s=0.0100, noise_s=0.0002)
    assert bob.first_place and bob.rank and bob.rank.rank == 1
    cat = await judged(env, CAT, time_s=0.0080, noise_s=0.0002)  # clearly faster
    assert cat.first_place and cat.rank and cat.rank.rank == 1 and cat.points == 25
    dan = await judged(env, DAN, time_s=0.0081, noise_s=0.0002)  # within the noise of Cat
    assert not dan.first_place and dan.rank and dan.rank.rank == 1 and dan.rank.tied
    board = await service.board(BOB, "kv_cache_bytes")
    assert [(r.rank, r.run.member, r.tied) for r in board.rows] == [
        (1, "Cat", True),
        (1, "Dan", True),
        (3, "Bob", False),
    ]
    assert [m.header for _, m, _ in channels.posts] == [
        "🏆 New first place on kv_cache_bytes (cpu)",
        "🏆 New first place on kv_cache_bytes (cpu)",
    ]
    assert "Cat now leads" in (channels.posts[1][1].text or "")
    assert (await service.board(BOB, "kv_cache_bytes", "cuda")).rows == ()  # per device kind


async def test_personal_best_beyond_noise_earns_points_and_a_resubmission_nothing(
    env: Any,
) -> None:
    db, _, _, _, service = env
    await judged(env, BOB, time_s=0.0100, noise_s=0.0001)
    same = await judged(env, BOB, time_s=0.0100, noise_s=0.0001)
    assert same.points == 0 and not same.personal_best
    noisy = await judged(env, BOB, time_s=0.0099, noise_s=0.0001)  # within noise: not a best
    assert not noisy.personal_best
    better = await judged(env, BOB, time_s=0.0050, noise_s=0.0001)
    assert better.personal_best and better.points == 5
    assert better.rank and better.rank.rank == 1 and better.board_size == 1
    refs = sorted(p.ref.rsplit(":", 1)[0] for p in await rows(db, PointsEvent))
    assert refs == ["drill:best", "drill:first", "drill:passed"]
    text = render_outcome(better).messages[0]
    assert "Personal best!" in (text.footer or "")
    assert {f.name for f in text.fields} >= {"Time", "Speed-up over reference", "Rank (cpu)"}


async def test_reconciler_collects_redispatches_and_gives_up_with_a_message(env: Any) -> None:
    db, clock, runner, channels, service = env
    done = await service.submit(BOB, "kv_cache_bytes", KV)
    lost = await service.submit(CAT, "kv_cache_bytes", KV)
    runner.finish(done.job_id, result(runner.jobs[done.job_id], time_s=0.01))
    runner.lose(lost.job_id)  # the broker was flushed
    clock.advance(60)
    report = await service.reconcile()
    assert (report.collected, report.redispatched, report.given_up) == (1, 1, 0)
    assert runner.dispatches.count(lost.job_id) == 2
    assert [user for user, _ in channels.dms] == ["bob"]  # finished while nobody waited
    runner.lose(lost.job_id)
    report = await service.reconcile()
    assert report.given_up == 1 and report.redispatched == 0
    assert [user for user, _ in channels.dms] == ["bob", "cat"]
    told = channels.dms[1][1]
    assert "lost this job 2 times" in (told.text or "") and "/submit" in (told.text or "")
    again = await service.reconcile()  # nothing left, nobody told twice
    assert (again.collected, again.redispatched, again.given_up, again.notified) == (0, 0, 0, 0)
    statuses = sorted(s.status for s in await rows(db, Submission))
    assert statuses == ["done", "failed"]
    assert [p.ref for p in await rows(db, PointsEvent) if p.ref.startswith("drill:passed")] == [
        f"drill:passed:{done.id}"
    ]


async def test_only_one_process_reconciles_at_a_time(env: Any) -> None:
    db, clock, runner, channels, service = env
    other = SubmissionService(
        db.sessions, clock, runner, publishers={"console": channels}, holder="proc-b"
    )  # type: ignore[arg-type]
    from bot.store import claims as claim_repo

    async with db.sessions() as session:
        token = await claim_repo.acquire_claim(
            session,
            key="submissions:reconciler",
            holder="proc-b",
            now=clock.now(),
            policy=other.policy,
        )
        await session.commit()
    assert token is not None
    assert not (await service.reconcile()).claimed  # proc-b holds it and its lease is live
    async with db.sessions() as session:
        await claim_repo.release_claim(session, token=token, now=clock.now())
        await session.commit()
    assert (await service.reconcile()).claimed


async def test_a_young_submission_is_left_to_the_request_that_dispatched_it(env: Any) -> None:
    _, clock, runner, _, service = env
    sub = await service.submit(BOB, "kv_cache_bytes", KV)
    runner.lose(sub.job_id)
    assert (await service.reconcile(min_age=timedelta(seconds=30))).redispatched == 0
    clock.advance(31)
    assert (await service.reconcile(min_age=timedelta(seconds=30))).redispatched == 1


async def test_waiting_reports_queue_position_then_progress(env: Any) -> None:
    _, _, runner, _, service = env
    seen: list[str] = []
    sub = await service.submit(BOB, "kv_cache_bytes", KV)
    runner.finish(sub.job_id, result(runner.jobs[sub.job_id], time_s=0.01))
    await service.wait(sub.id, on_status=lambda p: seen.append(p.describe()))
    assert seen == [
        f"Submission #{sub.id} is queued: 2 job(s) ahead of yours.",
        f"Submission #{sub.id} is being judged (checking case 3/9).",
    ]


async def test_a_result_the_member_saw_is_not_sent_again_by_the_reconciler(env: Any) -> None:
    _, clock, _, channels, service = env
    await judged(env, BOB, time_s=0.01)
    report = await service.reconcile(min_age=timedelta(0))
    assert report.notified == 0 and channels.dms == []


async def test_two_processes_recording_the_same_result_at_once_record_it_once(env: Any) -> None:
    import asyncio

    db, clock, runner, channels, _ = env
    a, b = (
        SubmissionService(
            db.sessions,
            clock,
            runner,  # type: ignore[arg-type]
            publishers={"console": channels},  # type: ignore[dict-item]
            holder=holder,
        )
        for holder in ("proc-a", "proc-b")
    )
    sub = await a.submit(BOB, "kv_cache_bytes", KV)
    answer = result(runner.jobs[sub.job_id], time_s=0.01, noise_s=0.0001)
    outcomes = await asyncio.gather(a.record(sub.id, answer), b.record(sub.id, answer))
    assert sorted(o.recorded_now for o in outcomes) == [False, True]
    points = await rows(db, PointsEvent)
    assert sorted(p.ref for p in points) == [f"drill:first:{sub.id}", f"drill:passed:{sub.id}"]
    assert len(channels.posts) == 1


async def test_a_job_in_another_live_process_local_pool_is_left_to_that_process(
    env: Any,
) -> None:
    """With the local backend, proc-b's reconciler cannot see proc-a's pool: it must not judge
    proc-a's in-flight job a second time while proc-a beats, and must once proc-a is gone."""
    from bot.store import processes as process_repo

    db, clock, runner, channels, service = env
    runner.process_local = True
    async with db.sessions() as session:
        await process_repo.register_process(
            session, process_id="proc-a", host="h", pid=1, now=clock.now()
        )
        await session.commit()
    sub = await service.submit(BOB, "kv_cache_bytes", KV)  # dispatched by proc-a
    other = SubmissionService(
        db.sessions, clock, runner, publishers={"console": channels}, holder="proc-b"
    )  # type: ignore[arg-type]
    runner.lose(sub.job_id)  # what proc-b's own pool says of a job it never saw
    clock.advance(60)
    async with db.sessions() as session:
        await process_repo.beat(session, process_id="proc-a", now=clock.now())
        await session.commit()
    report = await other.reconcile()
    assert report.claimed and report.redispatched == 0 and report.left_to_owner == 1
    assert runner.dispatches.count(sub.job_id) == 1
    clock.advance(60)  # proc-a stopped beating: its pool is gone with it
    report = await other.reconcile()
    assert report.redispatched == 1 and runner.dispatches.count(sub.job_id) == 2
    rows_now = await rows(db, Submission)
    assert rows_now[0].dispatched_by == "proc-b"


async def test_a_rejudge_is_a_new_submission_of_the_same_code_awarded_once(env: Any) -> None:
    db, _, runner, _, service = env
    first = await judged(env, BOB, time_s=0.01)
    cohort_id = first.submission.cohort_id
    points_before = sorted((p.ref, p.points) for p in await rows(db, PointsEvent))

    again = await service.rejudge(first.submission.id, cohort_id=cohort_id)
    assert again.id != first.submission.id and again.source == first.submission.source
    assert (again.member_id, again.drill_id, again.status) == (
        first.submission.member_id,
        "kv_cache_bytes",
        "queued",
    )
    job = runner.jobs[job_id_for(again.id)]  # dispatched under its own job id
    runner.finish(job.job_id, result(job, time_s=0.01))
    outcome = await service.wait(again.id)
    assert outcome.submission.verdict == "passed"
    # the same code passing again is no new pass, no new best and no new first place
    assert sorted((p.ref, p.points) for p in await rows(db, PointsEvent)) == points_before
    original = next(s for s in await rows(db, Submission) if s.id == first.submission.id)
    assert original.status == "done" and original.verdict == "passed"  # kept as it was


async def test_a_rejudge_of_another_cohort_or_of_a_job_in_flight_is_refused(env: Any) -> None:
    db, _, runner, _, service = env
    queued = await service.submit(BOB, "kv_cache_bytes", KV)
    with pytest.raises(StudyBotError, match="still being judged"):
        await service.rejudge(queued.id, cohort_id=queued.cohort_id)
    with pytest.raises(StudyBotError, match="no submission #"):
        await service.rejudge(queued.id, cohort_id=queued.cohort_id + 1)
    assert len(await rows(db, Submission)) == 1 and len(runner.dispatches) == 1
