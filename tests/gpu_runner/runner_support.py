"""A small pure-Python drill and limits that keep sandbox tests fast (no torch to import)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
from pathlib import Path

import pytest

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, python_rng
from gpu_runner.harness import TimingOptions
from gpu_runner.judge import JudgeOptions
from gpu_runner.sandbox import Limits, SandboxUnavailableError, make_launcher

HOSTILE_DIR = Path(__file__).parent / "hostile"
# Written in the reference's docstring only: a submission that prints it has read the reference.
REFERENCE_MARKER = "sum-reference-b81f2c"


def total(values: list[int]) -> int:
    """Return the sum of the values (sum-reference-b81f2c)."""
    return sum(values)


class TotalDrill(Drill):
    """Sum a list of ints: a drill whose sandbox starts in milliseconds."""

    id = "test_total"
    title = "Sum a list"
    entry = "total"
    signature = "def total(values: list[int]) -> int"
    docstring = "Return the sum of `values`."
    template = "def total(values):\n    raise NotImplementedError\n"
    public_cases = (Case("short", {"n": 5}),)
    secret_cases = (Case("long", {"n": 200}), Case("empty", {"n": 0}))
    bench_cases = (Case("bench", {"n": 400}),)
    needs_torch = False
    reference_impl = staticmethod(total)
    reference_imports = ()
    upcast_reference = False

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a seeded list of ints."""
        rng = python_rng(self.id, case, seed)
        n = int(case.params["n"])
        return FunctionCall(([rng.randrange(-1000, 1000) for _ in range(n)],))


TOTAL = TotalDrill()
CORRECT_TOTAL = "def total(values):\n    return sum(values)\n"

FAST_LIMITS = Limits(
    wall_s=60, startup_s=20, case_s=3, cpu_s=30, memory_mb=512, address_space_mb=4096
)
FAST = JudgeOptions(timing=False, limits=FAST_LIMITS)
QUICK_TIMING = TimingOptions(
    budget_s=0.3, rounds=3, warmup_calls=2, max_pool_items=3000, generation_budget_s=0.3, samples=3
)
# Timing keeps a pool of fresh inputs per side, so it runs under the production memory cap
# (Limits' default) rather than the tight cap the hostile tests use: at 512 MiB a timed softmax
# was killed whenever the machine's page cache had to be charged to the run again.
TIMED_LIMITS = dataclasses.replace(FAST_LIMITS, memory_mb=Limits().memory_mb)
TIMED = JudgeOptions(processes=1, limits=TIMED_LIMITS, timing_options=QUICK_TIMING)


def hostile_source(name: str, **values: object) -> str:
    """Return a hostile submission from the corpus with its placeholders (`__NAME__`) filled."""
    text = (HOSTILE_DIR / name).read_text()
    for key, value in values.items():
        text = text.replace(f"__{key.upper()}__", str(value))
    return text


def require_sandbox() -> None:
    """Skip unless this machine can run the sandbox (bubblewrap)."""
    try:
        make_launcher(FAST_LIMITS).check()
    except SandboxUnavailableError as exc:
        pytest.skip(f"no sandbox on this machine: {exc}")


def sandbox_uid_processes() -> list[str]:
    """Return the host's processes running as the sandbox uid (65534)."""
    out = subprocess.run(
        ["ps", "-u", "65534", "-o", "pid=,comm="], capture_output=True, text=True, check=False
    )
    return [line for line in out.stdout.splitlines() if line.strip()]


def is_alive(pid: int) -> bool:
    """Return whether a process exists (and is not a zombie)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
