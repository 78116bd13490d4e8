"""The runner port the bot talks to, and its in-process backend.

`RunnerClient` is the one interface the bot's submission service uses, whatever the backend:

- `dispatch(job)` hands a job over and returns its task id at once (the job's `job_id`, so a
  retried dispatch of the same job is the same task and results are fetchable by job id);
- `status(task_id)` says whether it is queued (and how many jobs are ahead), running (with the
  judge's latest progress line), done (with the result) or unknown (never seen, or lost: the
  broker was flushed), which is what a reconciler needs to re-dispatch what vanished;
- `wait(task_id)` waits for the result. A job the runner cannot serve (unknown protocol
  version, a device kind no worker has, an unknown drill) raises `JobRefusedError`: a
  refusal is not a verdict on the member's code.

`LocalRunnerClient` judges in sandboxed subprocesses on this machine, a bounded number at once;
`gpu_runner.celery_runner.CeleryRunnerClient` sends the same jobs to Celery workers over Redis.
"""

from __future__ import annotations

import asyncio
import collections
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from gpu_runner.judge import JudgeOptions
from gpu_runner.protocol import Refusal, RunJob, RunResult, parse_answer

JobState = Literal["queued", "running", "done", "unknown"]
# Finished results a local runner keeps for `status`; older ones are for the database to hold.
LOCAL_RESULTS_KEPT = 1000


class RunnerError(RuntimeError):
    """The runner cannot take or answer a job (safe to show as is)."""


class RunnerUnavailableError(RunnerError):
    """The runner's broker or result store cannot be reached."""


class JobRefusedError(RunnerError):
    """A worker refused the job: wrong protocol version, device kind, drill or request."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.reason)
        self.refusal = refusal


@dataclass(frozen=True)
class JobStatus:
    """Where one dispatched job stands."""

    task_id: str
    state: JobState
    position: int | None = None
    progress: str = ""
    result: RunResult | Refusal | None = None


StatusCallback = Callable[[JobStatus], Awaitable[None] | None]


class RunnerClient(Protocol):
    """The port: hand jobs to a runner, follow them, collect their results by task id."""

    async def dispatch(self, job: RunJob) -> str:
        """Queue `job` and return its task id (the job id); dispatching it again is harmless."""
        ...

    async def status(self, task_id: str) -> JobStatus:
        """Return where the job stands."""
        ...

    async def wait(
        self,
        task_id: str,
        *,
        timeout_s: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> RunResult:
        """Wait for the job's result; raise JobRefusedError when it was refused."""
        ...

    async def close(self) -> None:
        """Release connections and stop local work."""
        ...


def unwrap(answer: RunResult | Refusal) -> RunResult:
    """Return a result, or raise JobRefusedError for a refusal."""
    if isinstance(answer, Refusal):
        raise JobRefusedError(answer)
    return answer


async def run_job(
    client: RunnerClient, job: RunJob, *, timeout_s: float | None = None
) -> RunResult:
    """Dispatch one job and wait for its result."""
    task_id = await client.dispatch(job)
    return await client.wait(task_id, timeout_s=timeout_s)


async def _notify(callback: StatusCallback | None, status: JobStatus) -> None:
    if callback is None:
        return
    outcome = callback(status)
    if outcome is not None:
        await outcome


class LocalRunnerClient:
    """Judge jobs in sandboxed subprocesses on this machine, `concurrency` at a time.

    Judging blocks for seconds, so each job runs in a worker thread. One at a time by
    default: the timings of two jobs sharing a small machine would be noise. A job is served
    exactly like a Celery worker serves it (same checks, same refusals), for the kinds this
    machine's device allows.
    """

    # Jobs live in this process's pool: another process asking about one hears "unknown".
    process_local = True

    def __init__(
        self,
        options: JudgeOptions | None = None,
        *,
        concurrency: int = 1,
        serve: Callable[..., str] | None = None,
    ) -> None:
        from gpu_runner.worker import detect_device, serve_job

        self._options = options or JudgeOptions()
        self._slots = asyncio.Semaphore(concurrency)
        self._serve = serve or serve_job
        self._device = detect_device()
        self._worker = f"local@{socket.gethostname()}"
        self._tasks: dict[str, asyncio.Task[RunResult | Refusal]] = {}
        self._waiting: list[str] = []
        self._progress: dict[str, str] = {}
        self._done: collections.OrderedDict[str, RunResult | Refusal] = collections.OrderedDict()

    async def dispatch(self, job: RunJob) -> str:
        """Start judging `job` as soon as a slot is free; return its task id."""
        task_id = job.job_id
        if task_id in self._tasks or task_id in self._done:
            return task_id
        self._waiting.append(task_id)
        self._tasks[task_id] = asyncio.create_task(self._run(task_id, job.to_json()))
        return task_id

    async def _run(self, task_id: str, payload: str) -> RunResult | Refusal:
        try:
            async with self._slots:
                self._waiting.remove(task_id)
                self._progress[task_id] = "starting"

                def progress(message: str) -> None:
                    self._progress[task_id] = message

                text = await asyncio.to_thread(
                    self._serve,
                    payload,
                    self._device,
                    options=self._options,
                    progress=progress,
                    worker=self._worker,
                )
            answer = parse_answer(text)
            self._done[task_id] = answer
            while len(self._done) > LOCAL_RESULTS_KEPT:
                self._done.popitem(last=False)
            return answer
        finally:
            self._progress.pop(task_id, None)
            self._tasks.pop(task_id, None)
            if task_id in self._waiting:
                self._waiting.remove(task_id)

    async def status(self, task_id: str) -> JobStatus:
        """Return where the job stands in this process."""
        if task_id in self._done:
            return JobStatus(task_id, "done", result=self._done[task_id])
        if task_id in self._waiting:
            return JobStatus(task_id, "queued", position=self._waiting.index(task_id))
        if task_id in self._tasks:
            return JobStatus(task_id, "running", progress=self._progress.get(task_id, ""))
        return JobStatus(task_id, "unknown")

    async def wait(
        self,
        task_id: str,
        *,
        timeout_s: float | None = None,
        on_status: StatusCallback | None = None,
    ) -> RunResult:
        """Wait for the job's result (reporting each change of its status)."""
        if task_id in self._done:
            return unwrap(self._done[task_id])
        task = self._tasks.get(task_id)
        if task is None:
            raise RunnerError(f"no job {task_id!r} is known to this runner; dispatch it again")
        last: JobStatus | None = None
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while not task.done():
            status = await self.status(task_id)
            if status != last:
                await _notify(on_status, status)
                last = status
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"job {task_id} did not finish within {timeout_s:g} s")
            await asyncio.wait({task}, timeout=0.2 if remaining is None else min(0.2, remaining))
        return unwrap(task.result())

    async def judge(self, job: RunJob) -> RunResult:
        """Judge one job and return its result."""
        return await run_job(self, job)

    async def judge_json(self, payload: str) -> str:
        """Judge a job given as JSON and return the answer as JSON (a result or a refusal)."""
        job = RunJob.from_json(payload)
        await self.dispatch(job)
        try:
            return (await self.wait(job.job_id)).to_json()
        except JobRefusedError as exc:
            return exc.refusal.to_json()

    async def close(self) -> None:
        """Cancel the jobs still waiting for a slot (a running judging finishes in its thread)."""
        for task_id in list(self._waiting):
            task = self._tasks.get(task_id)
            if task is not None:
                task.cancel()


def make_runner_client(
    backend: str,
    *,
    redis_url: str | None = None,
    options: JudgeOptions | None = None,
    concurrency: int = 1,
) -> RunnerClient:
    """Return the runner client for a backend: "local" (this machine) or "celery" (Redis)."""
    if backend == "local":
        return LocalRunnerClient(options, concurrency=concurrency)
    if backend == "celery":
        from gpu_runner.celery_runner import CeleryRunnerClient, RunnerNodeSettings

        settings = RunnerNodeSettings()
        if redis_url is not None:
            settings = settings.model_copy(update={"redis_url": redis_url})
        return CeleryRunnerClient(settings)
    raise RunnerError(f"unknown runner backend {backend!r}; use local or celery")
