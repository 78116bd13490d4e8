"""A local runner: judges `RunJob`s in sandboxed subprocesses on this machine.

It honours the same contract as a queue-backed worker would (JSON `RunJob` in, `RunResult`
out), so the bot can switch backends without changing a call site. Judging blocks for seconds,
so it runs in a worker thread, one job at a time by default: the timings of two jobs sharing a
small machine would be noise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gpu_runner.judge import JudgeOptions, judge_job
from gpu_runner.protocol import RunJob, RunResult


class LocalRunnerClient:
    """Dispatch jobs to the judge in this process, `concurrency` at a time."""

    def __init__(
        self,
        options: JudgeOptions | None = None,
        *,
        concurrency: int = 1,
        judge: Callable[..., RunResult] = judge_job,
    ) -> None:
        self._options = options or JudgeOptions()
        self._slots = asyncio.Semaphore(concurrency)
        self._judge = judge

    async def dispatch(self, job: RunJob) -> RunResult:
        """Judge one job and return its result."""
        async with self._slots:
            return await asyncio.to_thread(self._judge, job, options=self._options)

    async def dispatch_json(self, payload: str) -> str:
        """Judge a job given as JSON and return the result as JSON."""
        result = await self.dispatch(RunJob.from_json(payload))
        return result.to_json()
