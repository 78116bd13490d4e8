"""A runner node: what device it has, which jobs it serves, and how it answers one.

A node serves the device kinds its hardware allows: `cpu` always, and with a CUDA device also
`cuda` and `cuda-<model>` (e.g. `cuda-h100`, from `torch.cuda`), plus any finer `cuda-...` queue
an organiser starts it on. It refuses, with a `Refusal` instead of a verdict, a job of a
protocol version it does not know and a job for a device kind it cannot serve. Nothing here
imports `bot/`, a chat SDK or a database driver: a runner node installs `studybot[runner]` only.

`python -m gpu_runner.worker --queue cpu [--concurrency N]` (what `studybot worker` runs)
starts a Celery worker on the queue.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pydantic

from gpu_runner.judge import JudgeError, JudgeOptions, SandboxUnavailableError, judge_job
from gpu_runner.protocol import (
    DEVICE_KIND_PATTERN,
    KNOWN_VERSIONS,
    Refusal,
    RunJob,
    message_version,
)

__all__ = ["DeviceInfo", "detect_device", "gpu_kind", "serve_job"]

log = logging.getLogger(__name__)
_VENDOR_WORDS = {"nvidia", "geforce", "tesla", "quadro"}


@dataclass(frozen=True)
class DeviceInfo:
    """What a node can judge on: the device kinds it serves and a name for people."""

    kinds: tuple[str, ...]
    name: str
    host: str = field(default_factory=socket.gethostname)

    def serves(self, kind: str) -> bool:
        """Return whether this node can judge a job of device kind `kind`."""
        return kind in self.kinds

    def with_queues(self, queues: Sequence[str]) -> DeviceInfo:
        """Return this node also serving the finer `cuda-...` queues it was started on."""
        extra = tuple(q for q in queues if q not in self.kinds and q.startswith("cuda-"))
        return DeviceInfo(self.kinds + extra, self.name, self.host)


def gpu_kind(device_name: str) -> str:
    """Return the finer device kind of a GPU, e.g. "NVIDIA H100 80GB HBM3" -> "cuda-h100"."""
    words = [w for w in re.split(r"[\s\-_/]+", device_name.lower()) if w]
    words = [w for w in words if w not in _VENDOR_WORDS]
    for i, word in enumerate(words):
        if any(ch.isdigit() for ch in word):
            prefix = words[i - 1] if i > 0 and words[i - 1].isalpha() else ""
            slug = re.sub(r"[^a-z0-9]", "", prefix + word)
            if slug:
                return f"cuda-{slug}"
    return "cuda"


def detect_device() -> DeviceInfo:
    """Return the device kinds this machine serves (`torch.cuda` where torch is installed)."""
    from gpu_runner.judge import device_name

    try:
        import torch

        has_cuda = bool(torch.cuda.is_available())
    except ImportError:
        has_cuda = False
    if not has_cuda:
        return DeviceInfo(("cpu",), device_name("cpu", 1))
    name = torch.cuda.get_device_name()
    kinds = ["cpu", "cuda"]
    finer = gpu_kind(name)
    if finer not in kinds:
        kinds.append(finer)
    return DeviceInfo(tuple(kinds), f"cuda: {name}")


def check_queues(device: DeviceInfo, queues: Sequence[str]) -> str | None:
    """Return why this node cannot consume `queues`, or None when it can."""
    for queue in queues:
        if not re.fullmatch(DEVICE_KIND_PATTERN, queue):
            return f"{queue!r} is not a device kind; use cpu, cuda or cuda-<model>, e.g. cuda-h100"
        if queue.startswith("cuda") and "cuda" not in device.kinds:
            return f"this machine has no CUDA device, so it cannot serve the {queue!r} queue"
        if queue != "cpu" and not queue.startswith("cuda"):
            return f"unknown device kind {queue!r}; use cpu, cuda or cuda-<model>"
        if queue.startswith("cuda-") and queue in _known_models() and queue not in device.kinds:
            return f"this machine's GPU is {device.name!r}, not a {queue.removeprefix('cuda-')}"
    return None


def _known_models() -> set[str]:
    names = ("a10", "a100", "h100", "h200", "b200", "l4", "l40s", "t4", "v100", "mi300x")
    return {f"cuda-{n}" for n in names}


def serve_job(
    payload: str | bytes,
    device: DeviceInfo,
    *,
    options: JudgeOptions | None = None,
    progress: Callable[[str], None] | None = None,
    worker: str = "",
    max_processes: int | None = None,
) -> str:
    """Judge one job given as JSON and return the answer as JSON (a result or a refusal).

    `max_processes` bounds the timed processes a job may ask for, so it ends within the
    queue's time limit instead of being killed mid-way.
    """
    started_at = time.time()
    version = message_version(payload)

    def refuse(reason: str, job_id: str = "") -> str:
        log.warning("refused job %s: %s", job_id or "?", reason)
        return Refusal(job_id=job_id, reason=reason, worker=worker, serves=device.kinds).to_json()

    if version not in KNOWN_VERSIONS:
        known = ", ".join(str(v) for v in sorted(KNOWN_VERSIONS))
        shown = "none" if version is None else str(version)
        return refuse(f"this worker reads runner protocol version {known}; the job is {shown}")
    try:
        job = RunJob.from_json(payload)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "the job"
        return refuse(f"malformed job: {where}: {first.get('msg', 'invalid')}")
    if not device.serves(job.kind):
        kinds = ", ".join(device.kinds)
        return refuse(
            f"this worker ({device.name}) serves {kinds}; the job needs {job.kind}", job.job_id
        )
    if max_processes is not None and job.timing and job.processes > max_processes:
        return refuse(
            f"the job asks for {job.processes} timed processes; this worker's time limit "
            f"allows at most {max_processes}",
            job.job_id,
        )
    from gpu_runner.drills import UnknownDrillError

    try:
        result = judge_job(job, options=options, progress=progress)
    except (UnknownDrillError, JudgeError, SandboxUnavailableError) as exc:
        return refuse(str(exc), job.job_id)
    answer = result.model_copy(update={"worker": worker, "started_at": started_at})
    return answer.to_json()


def _parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="studybot worker",
        description="Start a runner worker: judge queued code drills on this machine's device.",
    )
    parser.add_argument(
        "--queue",
        action="append",
        help="a device kind to serve: cpu, cuda or cuda-<model> (repeat for several)",
    )
    parser.add_argument(
        "--concurrency", type=int, default=1, help="jobs judged at once (default 1)"
    )
    parser.add_argument("--redis-url", help="broker and result backend (default: from settings)")
    parser.add_argument("--name", help="this worker's name (default: <queue>@<host>)")
    parser.add_argument("--loglevel", default="INFO")
    return parser.parse_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Start a Celery worker consuming the given device-kind queues; return its exit status."""
    args = _parse_args(sys.argv[1:] if argv is None else argv)
    from gpu_runner.celery_runner import RunnerNodeSettings, run_worker

    try:
        settings = RunnerNodeSettings()
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        name = "STUDYBOT_RUNNER_" + "_".join(str(x) for x in first.get("loc", ())).upper()
        print(f"error: {name}: {first.get('msg', 'invalid')}", file=sys.stderr)
        return 2
    if args.redis_url:
        settings = settings.model_copy(update={"redis_url": args.redis_url})
    queues: list[str] = args.queue or ["cpu"]
    if args.concurrency < 1:
        print("error: --concurrency must be at least 1", file=sys.stderr)
        return 2
    device = detect_device()
    problem = check_queues(device, queues)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    name = args.name or f"{'+'.join(queues)}-{os.getpid()}@{device.host}"
    return run_worker(
        settings,
        device.with_queues(queues),
        queues=queues,
        concurrency=args.concurrency,
        name=name,
        loglevel=args.loglevel,
    )


if __name__ == "__main__":
    sys.exit(main())
