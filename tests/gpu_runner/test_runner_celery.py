"""The Celery runner against a real Redis and real worker processes.

Skipped with a reason where Redis is missing; failed under STUDYBOT_REQUIRE_SERVICES=1.
The broker and result backend live in their own Redis database (8 unless
STUDYBOT_TEST_CELERY_REDIS_URL says otherwise), emptied around each test.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gpu_runner.celery_runner import TASK_NAME, CeleryRunnerClient, RunnerNodeSettings
from gpu_runner.client import JobRefusedError, JobStatus, RunnerError
from gpu_runner.protocol import Refusal, RunJob
from tests.conftest import service_or_skip
from tests.gpu_runner.runner_support import require_sandbox

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
CELERY_URL = os.environ.get("STUDYBOT_TEST_CELERY_REDIS_URL", "redis://127.0.0.1:6379/8")
KV_SOURCE = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)
# Modules a runner node must never need; the worker runs with them unimportable.
BLOCKED = ("discord", "slack_bolt", "slack_sdk", "sqlalchemy", "sqlmodel", "asyncpg", "bot")
BLOCKING_PRELUDE = f"""
import sys
BLOCKED = {BLOCKED!r}

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{{name}} is blocked on a runner node")
        return None

for name in list(sys.modules):
    if name.split(".")[0] in BLOCKED:
        del sys.modules[name]
sys.meta_path.insert(0, Blocker())
"""


@pytest.fixture
def celery_url() -> Iterator[str]:
    """The Celery test database, emptied before and after the test."""
    import redis

    url = service_or_skip("Redis", CELERY_URL, 6379)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


class Workers:
    """Starts real `studybot worker` processes and stops every one of them at the end."""

    def __init__(self, url: str, tmp_path: Path) -> None:
        self.url = url
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STUDYBOT_RUNNER_REDIS_URL=self.url,
            STUDYBOT_RUNNER_VISIBILITY_TIMEOUT_S="3",
            STUDYBOT_RUNNER_RESTORE_INTERVAL_S="0.5",
            PYTHONPATH=str(ROOT),
        )
        env.update(extra)
        return env

    def start(
        self, name: str, *, queue: str = "cpu", blocked: bool = False
    ) -> subprocess.Popen[bytes]:
        args = ["--queue", queue, "--concurrency", "1", "--name", name, "--loglevel", "WARNING"]
        code = (BLOCKING_PRELUDE if blocked else "") + (
            "from gpu_runner.worker import main\nsys.exit(main(" + repr(args) + "))\n"
        )
        log = open(self.tmp_path / f"{name}.log", "wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "import sys\n" + code],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def log(self, name: str) -> str:
        return (self.tmp_path / f"{name}.log").read_text(errors="replace")

    def kill(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                self.kill(proc, signal.SIGTERM)


@pytest.fixture
def workers(celery_url: str, tmp_path: Path) -> Iterator[Workers]:
    """A factory of real worker processes on the Celery test database."""
    require_sandbox()
    pool = Workers(celery_url, tmp_path)
    yield pool
    pool.stop_all()


def _client(url: str) -> CeleryRunnerClient:
    return CeleryRunnerClient(
        RunnerNodeSettings(redis_url=url, visibility_timeout_s=3, restore_interval_s=0.5),
        poll_s=0.05,
    )


def _job(source: str = KV_SOURCE, **fields: object) -> RunJob:
    values: dict[str, object] = {
        "job_id": f"test-{uuid.uuid4().hex[:12]}",
        "drill": "kv_cache_bytes",
        "source": source,
        "timing": False,
        "processes": 1,
    }
    values.update(fields)
    return RunJob.model_validate(values)


def _run(coro_factory: Callable[[], object]) -> object:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


def test_a_worker_that_cannot_import_chat_or_database_clients_judges_a_job(
    workers: Workers, celery_url: str
) -> None:
    workers.start("small-node", blocked=True)
    client = _client(celery_url)
    seen: list[JobStatus] = []

    async def scenario() -> object:
        job = _job(submission_id="sub-1")
        task_id = await client.dispatch(job)
        assert task_id == job.job_id
        result = await client.wait(task_id, timeout_s=120, on_status=seen.append)
        again = await client.status(task_id)
        await client.close()
        return result, again

    result, again = _run(scenario)  # type: ignore[misc]
    assert result.verdict == "passed", result.message + workers.log("small-node")
    assert result.job_id == again.task_id
    assert result.worker == "small-node"
    assert again.state == "done"
    assert seen and seen[0].state in ("queued", "running")
    assert "blocked on a runner node" not in workers.log("small-node")


def test_a_job_whose_worker_is_killed_mid_job_is_finished_by_another(
    workers: Workers, celery_url: str
) -> None:
    slow = "import time\ntime.sleep(4)\n" + KV_SOURCE
    first = workers.start("doomed")
    client = _client(celery_url)

    async def until_running(task_id: str) -> None:
        for _ in range(1200):
            if (await client.status(task_id)).state == "running":
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the first worker never started the job:\n" + workers.log("doomed"))

    async def scenario() -> object:
        job = _job(slow)
        await client.dispatch(job)
        await until_running(job.job_id)
        workers.kill(first)  # SIGKILL to the worker and its pool: nothing can ack or reject
        workers.start("rescuer")
        result = await client.wait(job.job_id, timeout_s=120)
        await client.close()
        return result

    result = _run(scenario)
    assert result.verdict == "passed", result.message  # type: ignore[attr-defined]
    assert result.worker == "rescuer"  # type: ignore[attr-defined]


def test_queued_jobs_show_their_position_and_a_flushed_broker_loses_them_visibly(
    celery_url: str,
) -> None:
    import redis

    client = _client(celery_url)

    async def scenario() -> list[JobStatus]:
        jobs = [_job() for _ in range(3)]
        for job in jobs:
            await client.dispatch(job)
        # A second dispatch of a queued job does not queue it twice.
        await client.dispatch(jobs[0])
        statuses = [await client.status(job.job_id) for job in jobs]
        redis.Redis.from_url(celery_url).flushdb()
        statuses.append(await client.status(jobs[0].job_id))
        with pytest.raises(RunnerError, match="dispatch it again"):
            await client.wait(jobs[1].job_id, timeout_s=5)
        await client.close()
        return statuses

    statuses = _run(scenario)
    assert [(s.state, s.position) for s in statuses] == [  # type: ignore[attr-defined]
        ("queued", 0),
        ("queued", 1),
        ("queued", 2),
        ("unknown", None),
    ]


def test_a_worker_refuses_a_job_for_a_device_it_lacks_and_an_unknown_version(
    workers: Workers, celery_url: str
) -> None:
    workers.start("cpu-only")
    client = _client(celery_url)
    cuda_job = _job(device_kind="cuda-h100")
    future_job = json.loads(_job().to_json()) | {"version": 99, "job_id": "from-the-future"}

    async def scenario() -> tuple[str, str]:
        # Misrouted on purpose: a CUDA job on the cpu queue, and a job from a newer bot.
        client.app.send_task(
            TASK_NAME, args=[cuda_job.to_json()], task_id=cuda_job.job_id, queue="cpu"
        )
        client.app.send_task(
            TASK_NAME, args=[json.dumps(future_job)], task_id="from-the-future", queue="cpu"
        )
        reasons = []
        for task_id in (cuda_job.job_id, "from-the-future"):
            deadline = time.monotonic() + 120
            while (status := await client.status(task_id)).state != "done":
                assert time.monotonic() < deadline, workers.log("cpu-only")
                await asyncio.sleep(0.05)
            assert status.result is not None
            # `wait` by job id raises the refusal: it is no verdict on the member's code.
            with pytest.raises(JobRefusedError) as refused:
                await client.wait(task_id, timeout_s=5)
            reasons.append(str(refused.value))
        await client.close()
        return reasons[0], reasons[1]

    device_reason, version_reason = _run(scenario)  # type: ignore[misc]
    assert "serves cpu" in device_reason and "cuda-h100" in device_reason
    assert "protocol version 1" in version_reason and "99" in version_reason


def test_an_imported_problem_travels_in_the_job_to_a_worker_without_a_database(
    workers: Workers, celery_url: str
) -> None:
    from gpu_runner.imported import read_problem_folder

    problem = read_problem_folder(Path(__file__).parent / "problems" / "axpy_relu")
    workers.start("small-node", blocked=True)
    client = _client(celery_url)
    source = (
        "import torch\n\ndef custom_kernel(data):\n    x, y, a = data\n"
        "    return torch.relu(a * x + y)\n"
    )

    async def scenario() -> object:
        job = _job(source, drill=problem.name, problem=problem)
        result = await client.wait(await client.dispatch(job), timeout_s=120)
        await client.close()
        return result

    result = _run(scenario)
    assert result.verdict == "passed", result.message + workers.log("small-node")  # type: ignore[attr-defined]
    assert result.cases_total == 3  # type: ignore[attr-defined]


def test_a_job_finishing_while_its_status_is_read_shows_running_then_done(celery_url: str) -> None:
    """State and result come from one read: a job that a worker finishes in between never
    shows as running with the answer where its progress should be."""
    client = _client(celery_url)
    backend = client.app.backend
    task_id = f"test-{uuid.uuid4().hex[:12]}"
    backend.store_result(task_id, {"progress": "judging case 3 of 8"}, "STARTED")
    real_read = backend.get_task_meta
    reads: list[str] = []

    def read_then_worker_finishes(tid: str, *args: object, **kwargs: object) -> dict:
        meta = real_read(tid, *args, **kwargs)
        reads.append(str(meta["status"]))
        if len(reads) == 1:  # the worker stores its answer right after this first read
            answer = Refusal(job_id=tid, reason="no such drill on this worker").to_json()
            backend.store_result(tid, answer, "SUCCESS")
        return meta

    backend.get_task_meta = read_then_worker_finishes  # type: ignore[method-assign]
    try:
        first = client.status_sync(task_id)
        second = client.status_sync(task_id)
    finally:
        backend.get_task_meta = real_read  # type: ignore[method-assign]
        client._close()
    assert (first.state, first.progress) == ("running", "judging case 3 of 8")
    assert second.state == "done" and reads == ["STARTED", "SUCCESS"]
    assert isinstance(second.result, Refusal)
    assert second.result.reason == "no such drill on this worker"


def test_a_job_finishing_between_the_looks_of_one_status_is_done_not_lost(
    celery_url: str,
) -> None:
    """A worker that takes a job off the queue and stores its answer while a status looks
    (meta first, then the queue, then the worker's held jobs) leaves it seen nowhere once:
    that look is repeated, not answered with "unknown" (which tells the bot to dispatch again)."""
    import redis

    from gpu_runner.celery_runner import _marker_key

    client = _client(celery_url)
    backend = client.app.backend
    task_id = f"test-{uuid.uuid4().hex[:12]}"
    marker = json.dumps({"queue": "cpu", "at": time.time()})
    redis.Redis.from_url(celery_url).set(_marker_key(task_id), marker)
    real_read = backend.get_task_meta
    reads: list[str] = []

    def read_then_worker_finishes(tid: str, *args: object, **kwargs: object) -> dict:
        meta = real_read(tid, *args, **kwargs)
        reads.append(str(meta["status"]))
        if len(reads) == 1:  # taken and finished right after this read: queue and held empty
            backend.store_result(tid, Refusal(job_id=tid, reason="finished").to_json(), "SUCCESS")
        return meta

    backend.get_task_meta = read_then_worker_finishes  # type: ignore[method-assign]
    try:
        status = client.status_sync(task_id)
        lost = client.status_sync(f"test-{uuid.uuid4().hex[:12]}")  # never dispatched
    finally:
        backend.get_task_meta = real_read  # type: ignore[method-assign]
        client._close()
    assert status.state == "done" and reads[:2] == ["PENDING", "SUCCESS"]
    assert lost.state == "unknown"
