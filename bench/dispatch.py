"""Benchmark dispatch through Celery: 100 submissions, 2 workers, against judging them directly.

Run from the repository root, with Redis running and nothing else judging on the machine (the
sandbox tests and this benchmark disturb each other):

    python bench/dispatch.py                     # 100 submissions, 2 workers
    python bench/dispatch.py --jobs 40 --redis-url redis://127.0.0.1:6379/8

The submissions are the drills' reference files (every drill in turn, several times), judged
for correctness without timing, so the figures are about dispatch, not about timing. It starts
two real `studybot worker` processes (concurrency 1 each) on the `cpu` queue, warms them up,
enqueues every submission at once, and waits for the answers. Then it judges the same files
directly on two local processes.

Figures:
- throughput: submissions per second through Celery, and directly on 2 processes; the goal is
  Celery >= 0.9x direct;
- queueing delay: from enqueue to a worker starting the job (p50, p95), waiting for a busy
  worker included;
- dispatch overhead: from enqueue, or from the moment the worker finished its previous job if
  that is later, to the worker starting the job: the cost of the queue itself, excluding time
  spent waiting for a busy worker (p50, p95; the goal is p95 < 100 ms);
- per job, the mean wall time through Celery (enqueue to answer seen by the client) over the
  mean wall time of judging the same file directly.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpu_runner.celery_runner import (  # noqa: E402
    TASK_NAME,
    CeleryRunnerClient,
    RunnerNodeSettings,
)
from gpu_runner.protocol import RunJob, RunResult, parse_answer  # noqa: E402


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def submissions(n: int, drills: list[str]) -> list[RunJob]:
    """Return n jobs: the drills' reference files in turn, judged without timing."""
    from gpu_runner.drills import get_drill

    sources = {d: get_drill(d).reference_source for d in drills}
    # The reference's entry has the reference function's name; a submission uses the entry.
    jobs = []
    for i in range(n):
        drill = get_drill(drills[i % len(drills)])
        source = sources[drill.id]
        name = drill.reference_impl.__name__
        if name != drill.entry:
            source += f"\n\n{drill.entry} = {name}\n"
        jobs.append(
            RunJob(
                job_id=f"bench-{uuid.uuid4().hex[:12]}",
                drill=drill.id,
                source=source,
                timing=False,
                processes=1,
                submission_id=f"bench-submission-{i}",
            )
        )
    return jobs


def start_workers(url: str, count: int, log_dir: Path) -> list[subprocess.Popen[bytes]]:
    """Start `count` real worker processes on the cpu queue."""
    env = dict(os.environ, STUDYBOT_RUNNER_REDIS_URL=url, PYTHONPATH=str(ROOT))
    procs = []
    for i in range(count):
        log = open(log_dir / f"worker-{i}.log", "wb")  # lives as long as the worker
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gpu_runner.worker",
                    "--queue",
                    "cpu",
                    "--concurrency",
                    "1",
                    "--name",
                    f"bench-{i}",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    return procs


def through_celery(client: CeleryRunnerClient, jobs: list[RunJob]) -> dict[str, Any]:
    """Enqueue every job at once, wait for every answer, and measure."""
    enqueued: dict[str, float] = {}
    started = time.time()
    for job in jobs:
        enqueued[job.job_id] = time.time()
        client.app.send_task(TASK_NAME, args=[job.to_json()], task_id=job.job_id, queue=job.kind)
    answers: dict[str, RunResult] = {}
    seen: dict[str, float] = {}
    # Collect in enqueue order through the result backend's pub/sub: no polling loop
    # competing with the workers for the CPU. An answer that arrived while an earlier one was
    # awaited is seen late, which only lengthens the client-side figures.
    for job in jobs:
        text = client.app.AsyncResult(job.job_id).get(timeout=60 * 30, interval=0.05)
        answer = parse_answer(str(text))
        if not isinstance(answer, RunResult):
            raise SystemExit(f"a worker refused {job.job_id}: {answer.reason}")
        answers[job.job_id] = answer
        seen[job.job_id] = time.time()
    wall = max(seen.values()) - started
    queueing = [answers[j].started_at - enqueued[j] for j in answers]  # type: ignore[operator]
    overhead = []
    by_worker: dict[str, list[RunResult]] = {}
    for answer in answers.values():
        by_worker.setdefault(answer.worker, []).append(answer)
    for runs in by_worker.values():
        runs.sort(key=lambda r: r.started_at or 0.0)
        free_at = 0.0
        for r in runs:
            assert r.started_at is not None
            overhead.append(r.started_at - max(enqueued[r.job_id], free_at))
            free_at = r.started_at + r.duration_s
    verdicts = statistics.multimode([a.verdict for a in answers.values()])
    return {
        "jobs": len(jobs),
        "wall_s": wall,
        "throughput_per_s": len(jobs) / wall,
        "queueing_p50_ms": 1e3 * _percentile(queueing, 0.5),
        "queueing_p95_ms": 1e3 * _percentile(queueing, 0.95),
        "overhead_p50_ms": 1e3 * _percentile(overhead, 0.5),
        "overhead_p95_ms": 1e3 * _percentile(overhead, 0.95),
        "overhead_max_ms": 1e3 * max(overhead),
        "mean_job_wall_s": statistics.fmean(seen[j] - enqueued[j] for j in seen),
        "mean_judge_s": statistics.fmean(a.duration_s for a in answers.values()),
        "workers": {w: len(r) for w, r in by_worker.items()},
        "passed": sum(a.passed for a in answers.values()),
        "most_common_verdict": verdicts[0],
    }


def _judge_directly(payload: str) -> tuple[float, str]:
    from gpu_runner.judge import judge_job

    job = RunJob.from_json(payload)
    began = time.perf_counter()
    result = judge_job(job)
    return time.perf_counter() - began, result.verdict


def directly(jobs: list[RunJob], processes: int) -> dict[str, Any]:
    """Judge the same jobs on `processes` local processes, as fast as they go."""
    context = multiprocessing.get_context("fork")
    with context.Pool(processes) as pool:
        pool.map(_judge_directly, [j.to_json() for j in jobs[:processes]])  # warm up
        started = time.perf_counter()
        outcomes = pool.map(_judge_directly, [j.to_json() for j in jobs], chunksize=1)
        wall = time.perf_counter() - started
    return {
        "jobs": len(jobs),
        "wall_s": wall,
        "throughput_per_s": len(jobs) / wall,
        "mean_judge_s": statistics.fmean(t for t, _ in outcomes),
        "passed": sum(v == "passed" for _, v in outcomes),
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    parser.add_argument(
        "--drills",
        default="kv_cache_bytes,lru_cache,token_bucket,hash_ring,block_manager,word_search,"
        "interleaving_string,softmax,gelu,rope",
        help="comma-separated drill ids whose references are submitted in turn",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    import redis

    broker = redis.Redis.from_url(args.redis_url)
    broker.ping()
    broker.flushdb()
    drills = [d for d in args.drills.split(",") if d]
    jobs = submissions(args.jobs, drills)
    report: dict[str, Any] = {"load_before": _load(), "drills": drills}
    print(f"load average before: {report['load_before']}")
    log_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"studybot-bench-{uuid.uuid4().hex[:6]}"
    log_dir.mkdir(parents=True)
    settings = RunnerNodeSettings(redis_url=args.redis_url)
    client = CeleryRunnerClient(settings)
    procs = start_workers(args.redis_url, args.workers, log_dir)
    try:
        warm = submissions(args.workers * 2, drills[:1])
        print(f"warming up {args.workers} workers ...", flush=True)
        through_celery(client, warm)
        print(f"{len(jobs)} submissions through Celery ...", flush=True)
        report["celery"] = through_celery(client, jobs)
    finally:
        for proc in procs:
            try:
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
        for proc in procs:
            proc.wait(timeout=60)
        broker.flushdb()
    print(f"the same {len(jobs)} files judged directly on {args.workers} processes ...", flush=True)
    report["direct"] = directly(jobs, args.workers)
    report["load_after"] = _load()

    c, d = report["celery"], report["direct"]
    ratio = c["throughput_per_s"] / d["throughput_per_s"]
    report["throughput_ratio"] = ratio
    print()
    print(f"drills submitted in turn: {', '.join(drills)}")
    print(
        f"celery  {c['jobs']} jobs in {c['wall_s']:.1f} s: {c['throughput_per_s']:.2f}/s "
        f"(workers: {c['workers']}; {c['passed']} passed)"
    )
    print(
        f"direct  {d['jobs']} jobs in {d['wall_s']:.1f} s: {d['throughput_per_s']:.2f}/s "
        f"({d['passed']} passed)"
    )
    print(f"throughput celery / direct: {ratio:.2f}x (goal >= 0.9x)")
    print(
        f"queueing delay (enqueue to start, waiting for busy workers included): "
        f"p50 {c['queueing_p50_ms']:.0f} ms, p95 {c['queueing_p95_ms']:.0f} ms"
    )
    print(
        f"dispatch overhead (to a free worker starting the job): p50 {c['overhead_p50_ms']:.1f} "
        f"ms, p95 {c['overhead_p95_ms']:.1f} ms, max {c['overhead_max_ms']:.1f} ms "
        "(goal p95 < 100 ms)"
    )
    print(
        f"mean judging per job: {c['mean_judge_s']:.2f} s in a worker, "
        f"{d['mean_judge_s']:.2f} s directly"
    )
    print(f"load average after: {report['load_after']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
