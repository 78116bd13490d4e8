"""What the bot adds to a drill submission: checks, queued row, dispatch, record, board, points.

The runner here answers at once (the judge and the Celery dispatch have their own benches), so
the figures are the bot's own cost per submission: validating the file, committing the queued
row before dispatch, storing the task id, recording the result with its points and ranking
it on the board. Each result is then delivered a second time, as a redelivered job would be,
and must change nothing. Prints per-step medians and p95 and the records that resulted.

    .venv/bin/python bench/submissions.py --members 50
    .venv/bin/python bench/submissions.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import select  # noqa: E402

from bot.clock import FakeClock  # noqa: E402
from bot.services.cohorts import CohortService  # noqa: E402
from bot.services.context import Actor  # noqa: E402
from bot.services.submissions import SubmissionService  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from bot.store.migrate import upgrade  # noqa: E402
from bot.store.models import PointsEvent, Submission  # noqa: E402
from gpu_runner.client import JobStatus  # noqa: E402
from gpu_runner.protocol import RunJob, RunResult, Timing, TimingStats  # noqa: E402

KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


class InstantRunner:
    """A runner that has each job judged the moment it is dispatched, with a random time."""

    def __init__(self, seed: int = 7) -> None:
        self.results: dict[str, RunResult] = {}
        self.rng = random.Random(seed)

    async def dispatch(self, job: RunJob) -> str:
        t = self.rng.uniform(1e-3, 2e-3)
        stats = TimingStats(
            runs=100, processes=1, median=t, mean=t, stderr=0, best=t, worst=t, spread=0
        )
        timing = Timing(
            case="big", device="cpu", method="wall", runs=100, processes=1, median=t, mean=t,
            stderr=t * 0.01, best=t, worst=t, spread=0, reference=stats, speedup=1.0,
            tie_with_reference=False,
        )  # fmt: skip
        self.results[job.job_id] = RunResult(
            job_id=job.job_id, drill=job.drill, verdict="passed", message="ok", timing=timing,
            sandbox="none", cases_passed=7, cases_total=7,
        )  # fmt: skip
        return job.job_id

    async def status(self, task_id: str) -> JobStatus:
        return JobStatus(task_id, "done", result=self.results[task_id])

    async def wait(self, task_id: str, **_: Any) -> RunResult:
        return self.results[task_id]

    async def close(self) -> None:
        pass


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {"median_ms": statistics.median(ordered) * 1e3, "p95_ms": p95 * 1e3}


async def run(db_url: str, members: int, rounds: int, schema: str | None) -> dict[str, Any]:
    """Push `rounds` submissions per member through the service; time each step."""
    engine = make_engine(db_url, schema=schema)
    sessions = make_session_factory(engine)
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    cohorts = CohortService(sessions, clock, days_total=133)
    admin = Actor("console", "local", "bench", "admin", "admin", is_workspace_admin=True)
    await cohorts.setup(admin, start_date="2026-12-01")
    actors = [Actor("console", "local", "bench", f"m{i}", f"m{i}") for i in range(members)]
    for actor in actors:
        await cohorts.join(actor)
    runner = InstantRunner()
    service = SubmissionService(sessions, clock, runner, hourly_cap=1000)  # type: ignore[arg-type]
    submit_s: list[float] = []
    record_s: list[float] = []
    again_s: list[float] = []
    for _ in range(rounds):
        for actor in actors:
            start = time.perf_counter()
            sub = await service.submit(actor, "kv_cache_bytes", KV)
            submit_s.append(time.perf_counter() - start)
            assert sub.id is not None
            start = time.perf_counter()
            outcome = await service.wait(sub.id)
            record_s.append(time.perf_counter() - start)
            start = time.perf_counter()
            redelivered = await service.record(sub.id, runner.results[sub.job_id])
            again_s.append(time.perf_counter() - start)
            assert outcome.recorded_now and not redelivered.recorded_now
        clock.advance(60)
    async with sessions() as session:
        subs = (await session.execute(select(Submission))).scalars().all()
        points = (await session.execute(select(PointsEvent))).scalars().all()
    refs = [p.ref for p in points]
    await engine.dispose()
    return {
        "database": db_url.split(":", 1)[0],
        "submissions": len(subs),
        "members": members,
        "submit_check_store_dispatch": _summary(submit_s),
        "wait_record_rank_points": _summary(record_s),
        "redelivered_result": _summary(again_s),
        "points_events": len(points),
        "duplicate_refs": len(refs) - len(set(refs)),
        "all_done": all(s.status == "done" for s in subs),
    }


async def main() -> None:
    """Parse the arguments, run the bench, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pg", help="a PostgreSQL URL (a fresh schema is used and dropped)")
    args = parser.parse_args()
    if args.pg:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.pg)
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            await asyncio.to_thread(upgrade, args.pg, schema=schema)
            figures = await run(args.pg, args.members, args.rounds, schema)
        finally:
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await asyncio.to_thread(upgrade, url)
            figures = await run(url, args.members, args.rounds, None)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
