"""The runner contract: what is asked of a runner (`RunJob`) and what it answers (`RunResult`).

Both are frozen pydantic models with a `version` field and travel as JSON, so any runner backend
(a local subprocess, a Celery worker on a GPU node) honours the same contract and an old message
is refused rather than misread.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION: Literal[1] = 1
# Every version a worker of this release can read; a job of any other version is refused.
KNOWN_VERSIONS: frozenset[int] = frozenset({PROTOCOL_VERSION})

Verdict = Literal["passed", "wrong", "error", "timeout", "rejected"]
DeviceRequest = Literal["auto", "cpu", "cuda"]

VERDICTS: tuple[Verdict, ...] = ("passed", "wrong", "error", "timeout", "rejected")
MAX_SOURCE_BYTES = 256 * 1024
# A device kind names a queue: `cpu`, `cuda`, or a finer one an organiser names (`cuda-h100`).
DEVICE_KIND_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# An imported problem's files travel inside the job: workers have no database.
MAX_PROBLEM_FILE_BYTES = 256 * 1024
MAX_PROBLEM_FILES = 16
PROBLEM_FILE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*\.py$"


class ImportedProblem(_Frozen):
    """A problem imported from a GPU MODE style folder: its files, tests and benchmarks.

    `files` are the modules the reference and the submission import (`reference.py` defines
    `generate_input`, `ref_kernel` and `check_implementation`; `task.py`, `utils.py` ...). The
    reference runs in its own sandboxed process, never beside the submission.
    """

    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9]+([_-][a-z0-9]+)*$")
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=20_000)
    files: dict[str, str] = Field(max_length=MAX_PROBLEM_FILES)
    template: str = Field(max_length=MAX_PROBLEM_FILE_BYTES)
    tests: tuple[dict[str, int | float | str | bool], ...] = Field(min_length=1, max_length=64)
    benchmarks: tuple[dict[str, int | float | str | bool], ...] = Field(default=(), max_length=64)
    device: str = Field(default="cuda", max_length=64, pattern=DEVICE_KIND_PATTERN)


class RunJob(_Frozen):
    """One submission to judge: which drill, the member's file, and how to run it."""

    version: Literal[1] = PROTOCOL_VERSION
    job_id: str = Field(min_length=1, max_length=128)
    drill: str = Field(min_length=1, max_length=64)
    source: str = Field(max_length=MAX_SOURCE_BYTES)
    device: DeviceRequest = "auto"
    timing: bool = True
    processes: int = Field(default=3, ge=1, le=20)
    device_kind: str | None = Field(
        default=None,
        max_length=64,
        pattern=DEVICE_KIND_PATTERN,
        description="the queue (device kind) to judge on; None: cpu, or cuda when asked for",
    )
    submission_id: str | None = Field(
        default=None,
        max_length=128,
        description="the stored submission this job judges: results are recorded by it, once",
    )
    problem: ImportedProblem | None = Field(
        default=None, description="the imported problem `drill` names (None: a built-in drill)"
    )

    @property
    def kind(self) -> str:
        """Return the device kind (queue) this job must be judged on."""
        if self.device_kind:
            return self.device_kind
        return "cuda" if self.device == "cuda" else "cpu"

    def to_json(self) -> str:
        """Serialise the job as JSON."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> RunJob:
        """Parse a job from JSON, refusing other versions and unknown fields."""
        return cls.model_validate_json(text)


class TimingStats(_Frozen):
    """Per-call times in seconds of one implementation over all its timed processes."""

    runs: int = Field(ge=0)
    processes: int = Field(ge=0)
    median: float = Field(ge=0)
    mean: float = Field(ge=0)
    stderr: float = Field(ge=0)
    best: float = Field(ge=0)
    worst: float = Field(ge=0)
    spread: float = Field(ge=0, description="interquartile range divided by the median")
    process_medians: tuple[float, ...] = ()


class Timing(_Frozen):
    """How fast the submission ran, next to the reference timed in the same job."""

    case: str
    device: str
    method: str
    runs: int = Field(ge=0)
    processes: int = Field(ge=0)
    median: float = Field(ge=0)
    mean: float = Field(ge=0)
    stderr: float = Field(ge=0)
    best: float = Field(ge=0)
    worst: float = Field(ge=0)
    spread: float = Field(ge=0)
    reference: TimingStats
    speedup: float = Field(ge=0, description="median over paired rounds of reference / submission")
    tie_with_reference: bool
    rounds: int = Field(default=0, ge=0, description="paired rounds behind the speed-up")
    note: str = ""


class RunResult(_Frozen):
    """The verdict on one submission, with a message a member can act on."""

    version: Literal[1] = PROTOCOL_VERSION
    job_id: str = ""
    drill: str
    verdict: Verdict
    message: str
    cases_passed: int = Field(default=0, ge=0)
    cases_total: int = Field(default=0, ge=0)
    timing: Timing | None = None
    sandbox: str
    unsafe: bool = False
    output: str = Field(default="", description="the tail of what the submission printed")
    duration_s: float = Field(default=0.0, ge=0)
    worker: str = Field(default="", description="the worker that judged it (queued runners)")
    started_at: float | None = Field(
        default=None, description="Unix time the worker began the job (queued runners)"
    )

    @property
    def passed(self) -> bool:
        """Return whether the submission passed."""
        return self.verdict == "passed"

    def to_json(self) -> str:
        """Serialise the result as JSON."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> RunResult:
        """Parse a result from JSON, refusing other versions and unknown fields."""
        return cls.model_validate_json(text)


class Refusal(_Frozen):
    """A worker's answer to a job it cannot serve: not a verdict on the member's code."""

    version: Literal[1] = PROTOCOL_VERSION
    kind: Literal["refusal"] = "refusal"
    job_id: str = ""
    reason: str
    worker: str = ""
    serves: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Serialise the refusal as JSON."""
        return self.model_dump_json()


def message_version(text: str | bytes) -> int | None:
    """Return the `version` a JSON message declares, or None when it declares none readable."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def parse_answer(text: str | bytes) -> RunResult | Refusal:
    """Parse what a worker answered: a `RunResult`, or a `Refusal`."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("kind") == "refusal":
        return Refusal.model_validate(data)
    return RunResult.from_json(text)
