"""The judge's side of a sandboxed run: inputs out, results back, everything checked outside.

Inputs are generated here, on the trusted side, from a per-run seed; the sandbox only ever sees
the inputs of the calls it must make. Expected outputs are computed here with the drill's
reference and compared here, with the drill's tolerances. Inputs come back after each checked
call and are compared with the pristine copies kept here, so a submission that changes its
inputs in place is caught. Timed calls each get inputs never seen before; once timing is over a
random sample of them is re-checked, so returning a cached or stale result fails; and the times
the sandbox reports must agree with the wall clock measured here, so a patched timer is caught.
"""

from __future__ import annotations

import gc
import json
import math
import random
import secrets
import shutil
import signal
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpu_runner import timing, wire
from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.protocol import Verdict
from gpu_runner.sandbox import (
    ChannelClosed,
    ChannelViolation,
    Exit,
    Launcher,
    Limits,
    SandboxProcess,
    StepTimeout,
    rlimit_settings,
)

if TYPE_CHECKING:
    from gpu_runner.drills.base import Case, Drill
    from gpu_runner.library_calls import LibraryCall

PACKAGE_DIR = Path(__file__).resolve().parent
# The only StudyBot files the sandbox ever sees; none holds a reference or a seed.
SANDBOX_FILES = ("calling.py", "wire.py", "timing.py", "sandbox_entry.py")
ENTRY_SCRIPT = "sandbox_entry.py"
# The error type the sandbox's guards report for a forbidden library call.
FORBIDDEN_ERROR = "ForbiddenLibraryCall"
# The error type the entry reports when a kernel drill's launcher launched no kernel.
NO_KERNEL_ERROR = "NoKernelLaunch"

# How far the sandbox's own timer may disagree with the wall clock measured outside.
TIMER_LOWER_RATIO = 0.85
TIMER_SLACK_S = 0.02
TIMER_ROUND_SLACK_S = 0.004
TIMER_VERIFY_S = 0.4
TIMER_UPPER_SLACK_S = 0.005

_SIGNAL_MEANING: dict[int, str] = {
    signal.SIGSEGV: "a segmentation fault (invalid memory access)",
    signal.SIGBUS: "a bus error (invalid memory access)",
    signal.SIGABRT: "an abort",
    signal.SIGFPE: "a floating-point exception",
    signal.SIGILL: "an illegal instruction",
}


class Failed(Exception):
    """Ends judging with a verdict and a message a member can act on."""

    def __init__(self, verdict: Verdict, message: str, output: str = "") -> None:
        super().__init__(message)
        self.verdict: Verdict = verdict
        self.message = message
        self.output = output


@dataclass(frozen=True)
class TimingOptions:
    """How the timing stage measures, and when it has measured enough.

    Each pair of fresh processes (submission and reference) times rounds of `budget_s /
    rounds` seconds per side, alternating, at least `min_rounds` and at most `rounds` of
    them: it stops early once the relative standard error of its rounds' speed-ups is below
    `target_rel_error` (the rule KernelBot applies to single calls, here applied to the
    paired ratio). At least `min_processes` pairs are timed, more (up to the job's process
    count) only while the whole judging stays within `wall_budget_s`; the pairs share what
    the budget leaves after the correctness checks, and a pair past its share stops after
    its minimum rounds (after two when even those would overrun).

    `pool_bytes`, `max_pool_items` and `generation_budget_s` bound each round's fresh inputs:
    their size, their count, and the time the judge may spend making them.
    """

    budget_s: float = 1.2
    rounds: int = 8
    min_rounds: int = 3
    min_processes: int = 2
    target_rel_error: float = 0.01
    wall_budget_s: float = 11.0
    warmup_calls: int = 3
    min_block_s: float = 1e-4
    min_blocks: int = 5
    pool_bytes: int = 96 * 1024 * 1024
    max_pool_items: int = 20_000
    generation_budget_s: float = 0.25
    samples: int = 3

    @property
    def round_budget_s(self) -> float:
        """Return the seconds of timed calls per side in one round."""
        return self.budget_s / max(1, self.rounds)

    @property
    def blocks_per_round(self) -> int:
        """Return the fewest blocks a round must time, so a process gets `min_blocks`."""
        return max(1, math.ceil(self.min_blocks / max(1, min(self.min_rounds, self.rounds))))


@dataclass
class Round:
    """One timed round of one process: per-call seconds of each block."""

    per_call_s: list[float]
    calls: int
    stopped_by: str

    @property
    def median(self) -> float:
        """Return the round's median per-call time."""
        return statistics.median(self.per_call_s)


@dataclass
class ProcessTiming:
    """What one timed process measured over its rounds, per call, in seconds."""

    rounds: list[Round] = field(default_factory=list)

    @property
    def per_call_s(self) -> list[float]:
        """Return every block's per-call time, all rounds together."""
        return [t for r in self.rounds for t in r.per_call_s]

    @property
    def stopped_by(self) -> set[str]:
        """Return why the rounds stopped (CUDA: precision, budget or inputs)."""
        return {r.stopped_by for r in self.rounds}


@dataclass
class CaseInput:
    """One checked call: its case, how messages name it, and the pristine inputs."""

    case: Case
    label: str
    inputs: FunctionCall | Trace
    expected: object = None


@dataclass
class SeedStream:
    """Distinct input seeds for one run, drawn from a per-run secret seed."""

    run_seed: int = field(default_factory=lambda: secrets.randbelow(2**31))

    def __post_init__(self) -> None:
        self._rng = random.Random(self.run_seed)

    def next(self) -> int:
        """Return the next seed."""
        return self._rng.getrandbits(31)


def format_seconds(s: float) -> str:
    """Render a duration with a unit a person reads at a glance."""
    if s < 0:
        return "-" + format_seconds(-s)
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{s * 1e6:.3g} µs"
    return f"{s * 1e9:.3g} ns"


def write_job_dir(
    job_dir: Path,
    *,
    source: str,
    entry: str,
    kind: str,
    needs_torch: bool,
    device: str,
    threads: int,
    limits: Limits,
    guarded: Sequence[LibraryCall] = (),
    kernel: str | None = None,
    interpret: bool = False,
    files: dict[str, str] | None = None,
    exports: Sequence[str] = (),
) -> None:
    """Fill a job directory: the submission, the generic sandbox files and job.json.

    `kernel` ("triton") makes the entry require a kernel launch per checked call, under
    Triton's interpreter when `interpret`; `files` are extra modules the code imports (an
    imported problem's task.py, utils.py, ...), written beside it.
    """
    for name in SANDBOX_FILES:
        shutil.copyfile(PACKAGE_DIR / name, job_dir / name)
    for name, text in (files or {}).items():
        (job_dir / name).write_text(text, encoding="utf-8")
    (job_dir / "submission.py").write_text(source, encoding="utf-8")
    config = {
        "entry": entry,
        "kind": kind,
        "needs_torch": needs_torch,
        "device": device,
        "threads": threads,
        "rlimits": rlimit_settings(limits, address_space=device == "cpu"),
        "guarded": [call.to_plain() for call in guarded],
        "kernel": kernel,
        "interpret": interpret,
        "exports": list(exports),
    }
    (job_dir / "job.json").write_text(json.dumps(config))


def _hint(error_type: str, message: str, limits: Limits) -> str:
    low = message.lower()
    if error_type == "MemoryError" or "can't allocate memory" in low or "out of memory" in low:
        return f" (the memory limit is {limits.memory_mb} MiB)"
    if "file too large" in low:
        return f" (files are limited to {limits.file_size_mb} MiB)"
    if "no space left" in low:
        return f" (/tmp holds {limits.tmp_mb} MiB)"
    if error_type == "BlockingIOError" or "resource temporarily unavailable" in low:
        return f" (the sandbox allows {limits.processes} processes)"
    if error_type == "PermissionError" and ("errno 13" in low or "errno 1]" in low):
        return " (the sandbox has no network and a read-only file system outside /tmp)"
    return ""


def describe_error(what: str, error: dict[str, Any], limits: Limits) -> str:
    """Render an exception reported from the sandbox: type, message, the submission's lines."""
    etype = str(error.get("type", "Exception"))[:100]
    message = str(error.get("message", ""))[:2000]
    text = f"{what} raised {etype}" + (f": {message}" if message else "")
    text += _hint(etype, message, limits)
    where = [str(w)[:300] for w in error.get("where", []) if isinstance(w, str)][-6:]
    if where:
        text += "\n" + "\n".join(f"  submission.py {w}" for w in where)
    return text


def describe_exit(exit: Exit, during: str, limits: Limits) -> tuple[Verdict, str]:
    """Turn how a sandboxed process ended into a verdict and a message."""
    lim = exit.limit
    if lim == "wall":
        return "timeout", f"{during}: the run passed its {limits.wall_s:g} s wall-clock limit"
    if lim == "cpu":
        return "timeout", f"{during}: the run used more than {limits.cpu_s} s of CPU time"
    if lim == "memory":
        return "error", f"{during}: the run went over its {limits.memory_mb} MiB memory limit"
    if lim == "output":
        return "error", (
            f"{during}: the submission printed more than {limits.output_bytes // 1024} KiB; "
            "print less (the output limit exists so a flood cannot choke the judge)"
        )
    if lim == "message":
        return "rejected", f"{during}: the sandbox sent the judge an oversized message"
    if lim == "file size":
        return "error", f"{during}: the submission wrote a file over {limits.file_size_mb} MiB"
    if exit.signal is not None:
        try:
            name = signal.Signals(exit.signal).name
        except ValueError:
            name = f"signal {exit.signal}"
        meaning = _SIGNAL_MEANING.get(exit.signal, "")
        if exit.signal == signal.SIGKILL:
            meaning = "a kill (a memory, CPU or process limit)"
        return "error", f"{during}: the process crashed with {name}" + (
            f", {meaning}" if meaning else ""
        )
    return "error", (
        f"{during}: the process ended (exit status {exit.status}) before answering; "
        "does the submission call exit() or os._exit()?"
    )


def find_mutation(before: FunctionCall | Trace, after: object) -> str | None:
    """Return which argument the call changed in place, or None if all are untouched."""
    if not isinstance(before, FunctionCall):
        return None
    if not isinstance(after, FunctionCall):
        return "the inputs came back in an unexpected form"
    if len(after.args) != len(before.args) or set(after.kwargs) != set(before.kwargs):
        return "the argument list came back changed"
    for i, (b, a) in enumerate(zip(before.args, after.args, strict=True)):
        if not _same(b, a):
            return f"argument {i + 1}"
    for key in before.kwargs:
        if not _same(before.kwargs[key], after.kwargs[key]):
            return f"argument `{key}`"
    return None


def _same(a: object, b: object) -> bool:
    if type(a).__module__.startswith("torch"):
        import torch

        if not isinstance(a, torch.Tensor):
            return a == b
        if not isinstance(b, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        a, b = a.detach().cpu(), b.detach().cpu()
        if a.is_floating_point() or a.is_complex():
            return bool(((a == b) | (torch.isnan(a) & torch.isnan(b))).all())
        return bool(torch.equal(a, b))
    if isinstance(a, list | tuple):
        if not isinstance(b, list | tuple) or len(a) != len(b):
            return False
        return all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            return False
        return all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


@dataclass(frozen=True)
class WarmUp:
    """Warm-up inputs, encoded once and run by both sides before their rounds."""

    payload: bytes
    count: int
    item_bytes: int
    generate_s: float


def pregenerate(
    drill: Drill, case: Case, seeds: SeedStream, options: TimingOptions
) -> list[FunctionCall | Trace]:
    """Make fresh bench inputs for a first round ahead of time (at least one, within budget)."""
    items: list[FunctionCall | Trace] = []
    started = time.perf_counter()
    while not items or time.perf_counter() - started < options.generation_budget_s:
        items.append(drill.make_inputs(case, seeds.next()))
        if len(items) >= options.max_pool_items:
            break
    return items


def make_warm_up(drill: Drill, case: Case, seeds: SeedStream, options: TimingOptions) -> WarmUp:
    """Generate the warm-up calls: fewer for inputs that are big or slow to make."""
    started = time.perf_counter()
    first = drill.make_inputs(case, seeds.next())
    generate_s = time.perf_counter() - started
    first_bytes = len(wire.encode(first))
    n_warm = min(
        options.warmup_calls,
        options.pool_bytes // (4 * first_bytes),
        int(options.generation_budget_s / max(generate_s, 1e-9)),
    )
    warm = [first] + [drill.make_inputs(case, seeds.next()) for _ in range(max(1, n_warm) - 1)]
    # Warm-up calls are neither timed nor checked: inputs slow to make are reused, so even
    # they get every warm-up call (the first calls of a fresh process are the slow ones).
    wanted = max(1, min(options.warmup_calls, options.pool_bytes // (4 * first_bytes)))
    warm += [warm[i % len(warm)] for i in range(len(warm), wanted)]
    payload = wire.encode({"cmd": "warmup", "inputs": warm})
    return WarmUp(payload, len(warm), max(1, len(payload) // len(warm)), generate_s)


@dataclass(frozen=True)
class Pool:
    """One round's fresh inputs, encoded once and timed by both sides."""

    items: list[FunctionCall | Trace]
    payload: bytes
    budget_s: float
    judge_decode_s: float

    @property
    def transfer_s(self) -> float:
        """Return a generous time for the payload to cross a pipe."""
        return len(self.payload) / 50e6


def make_pool(
    drill: Drill,
    case: Case,
    seeds: SeedStream,
    options: TimingOptions,
    per_call_s: float,
    item_bytes: int,
    *,
    budget_s: float,
    device: str,
    ready: list[FunctionCall | Trace] | None = None,
) -> Pool:
    """Generate enough fresh inputs for `budget_s` of calls, within the round's bounds.

    Inputs in `ready` (made earlier, while the sandbox started, and never sent anywhere) are
    used first and removed from it.
    """
    per_round_minimum = options.blocks_per_round
    wanted = max(per_round_minimum, math.ceil(budget_s / per_call_s))
    wanted = min(wanted, options.max_pool_items, max(1, options.pool_bytes // item_bytes))
    items: list[FunctionCall | Trace] = []
    while ready and len(items) < wanted:
        items.append(ready.pop(0))
    started = time.perf_counter()
    while len(items) < wanted:
        items.append(drill.make_inputs(case, seeds.next()))
        if time.perf_counter() - started > options.generation_budget_s and len(items) >= 2:
            break
    payload = wire.encode({"cmd": "pool", "inputs": items})
    # The sandbox decodes the pool inside the timed window; the judge's own decode bounds the
    # time it may claim for that. Both decode with the collector paused.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    started = time.perf_counter()
    try:
        wire.decode(payload)
        judge_decode_s = time.perf_counter() - started
    finally:
        if gc_was_enabled:
            gc.enable()
    return Pool(items, payload, budget_s, judge_decode_s)


@dataclass(frozen=True)
class Reply:
    """A decoded reply from the entry and when it arrived (perf_counter seconds)."""

    obj: dict[str, Any]
    at: float


@dataclass
class _TimerCheck:
    """Reported block times against the wall clock, added up over a process's rounds."""

    reported_s: float = 0.0
    outside_s: float = 0.0
    rounds: int = 0

    def add(self, reported_s: float, outside_s: float) -> None:
        """Add one round."""
        self.reported_s += reported_s
        self.outside_s += outside_s
        self.rounds += 1

    def agrees(self) -> bool:
        """Return whether the reported time covers the wall clock, within latency slack."""
        slack = TIMER_SLACK_S + self.rounds * TIMER_ROUND_SLACK_S
        return self.reported_s >= TIMER_LOWER_RATIO * self.outside_s - slack

    def describe(self) -> str:
        """Say how far they disagree."""
        return (
            "the submission's timer disagrees with the wall clock: it reported "
            f"{format_seconds(self.reported_s)} of calls, but the calls took "
            f"{format_seconds(self.outside_s)} measured outside; patching the timer is not "
            "allowed"
        )


class EntryProcess:
    """One sandboxed entry process and the judge's half of its conversation."""

    def __init__(self, proc: SandboxProcess, limits: Limits, *, allows_mutation: bool) -> None:
        self.proc = proc
        self.limits = limits
        self.allows_mutation = allows_mutation
        self.exit: Exit | None = None
        self.outputs: list[object] = []
        self._timer = _TimerCheck()

    def close(self) -> Exit:
        """End the process (asking it to exit first) and return how it ended."""
        if self.exit is None:
            try:
                self.proc.send({"cmd": "exit"}, timeout=1.0)
            except (StepTimeout, ChannelClosed, wire.WireError):
                pass
            self.exit = self.proc.close(grace_s=1.0)
        return self.exit

    def output(self) -> str:
        """Return what the submission printed (after close)."""
        return self.exit.output if self.exit else ""

    def _ended(self, during: str) -> Failed:
        exit = self.close()
        verdict, message = describe_exit(exit, during, self.limits)
        return Failed(verdict, message, exit.output)

    def send(self, payload: bytes, timeout: float, during: str) -> float:
        """Send an encoded command; return when it was fully written."""
        try:
            return self.proc.send_bytes(payload, timeout)
        except StepTimeout:
            self.proc.mark_limit("step")
            self.close()
            raise Failed(
                "timeout", f"{during}: the sandbox stopped reading for {timeout:g} s"
            ) from None
        except ChannelClosed:
            raise self._ended(during) from None

    def expect(self, kind: str, timeout: float, during: str) -> Reply:
        """Wait for a reply of `kind`, turning every other outcome into a Failed."""
        try:
            msg = self.proc.receive(timeout)
        except StepTimeout:
            self.proc.mark_limit("step")
            self.close()
            raise Failed(
                "timeout",
                f"{during} did not finish within {timeout:g} s (wall clock): "
                "an endless loop, a sleep, or far too slow?",
                self.output(),
            ) from None
        except ChannelClosed:
            raise self._ended(during) from None
        except ChannelViolation as exc:
            self.close()
            raise Failed(
                "rejected",
                f"{during}: the judge's private channel carried bytes the judge's entry did "
                f"not write ({exc}); submissions must not write to it",
                self.output(),
            ) from None
        obj = msg.obj
        if not isinstance(obj, dict):
            self.close()
            raise Failed("rejected", f"{during}: malformed reply on the judge's channel")
        if obj.get("kind") == "error":
            raw = obj.get("error")
            error: dict[str, Any] = raw if isinstance(raw, dict) else {}
            if error.get("type") in (FORBIDDEN_ERROR, NO_KERNEL_ERROR):
                self.close()
                message = str(error.get("message", ""))[:500]
                raise Failed("rejected", f"{during}: {message}", self.output())
            stage = obj.get("stage")
            text = describe_error(during, error, self.limits)
            if stage == "unsendable":
                text = f"{during}: {error.get('message', 'the result cannot be sent back')}"
            if stage == "entry" and error.get("type") == "MissingEntry":
                text = str(error.get("message"))
            self.close()
            if error.get("type") in ("BlockingIOError",) and self.proc.pids_refused():
                text += f" (the process limit of {self.limits.processes} was reached)"
            raise Failed("error", text, self.output())
        if obj.get("kind") != kind:
            self.close()
            raise Failed("rejected", f"{during}: an unexpected reply on the judge's channel")
        return Reply(obj, msg.at)

    def invoke(self, name: str, call: FunctionCall, during: str) -> object:
        """Call an exported function of the process's module (an imported reference's)."""
        payload = wire.encode({"cmd": "invoke", "fn": name, "inputs": [call]})
        self.send(payload, self.limits.case_s + len(payload) / 50e6, during)
        return self.expect("invoked", self.limits.case_s, during).obj.get("output")

    def wait_ready(self) -> None:
        """Wait until the submission is imported and its entry found."""
        self.expect("ready", self.limits.startup_s, "loading submission.py")

    def check_cases(
        self, drill: Drill, cases: Sequence[CaseInput], progress: Callable[[str], None]
    ) -> int:
        """Run every case in the sandbox and compare; return how many passed (all, or raise)."""
        for c in cases:
            c.expected = drill.reference(c.inputs)
        self.outputs = []
        for _i, c, output in self._run_cases(cases, progress):
            problem = self._compare(drill, c.case, output, c.expected, c.inputs)
            if problem is not None:
                self.close()
                raise Failed("wrong", f"{c.label}: {problem}", self.output())
            self.outputs.append(output)
        return len(cases)

    def _run_cases(
        self, cases: Sequence[CaseInput], progress: Callable[[str], None]
    ) -> Iterator[tuple[int, CaseInput, object]]:
        """Send every case, then yield each one's output as it arrives (inputs checked)."""
        payload = wire.encode({"cmd": "cases", "inputs": [c.inputs for c in cases]})
        self.send(payload, self.limits.case_s + len(payload) / 50e6, "sending the cases")
        for i, c in enumerate(cases):
            progress(f"checking {c.label} ({i + 1}/{len(cases)})")
            reply = self.expect("case", self.limits.case_s, c.label)
            if reply.obj.get("i") != i:
                self.close()
                raise Failed("rejected", f"{c.label}: replies arrived out of order")
            self._check_untouched(c.inputs, reply.obj.get("after"), c.label)
            yield i, c, reply.obj.get("output")

    def check_same_as(
        self,
        cases: Sequence[CaseInput],
        earlier: Sequence[object],
        progress: Callable[[str], None],
    ) -> None:
        """Replay the cases here and require exactly the results an earlier process gave."""
        from gpu_runner.drills.base import EXACT, compare_values

        for i, c, output in self._run_cases(cases, progress):
            problem = compare_values(output, earlier[i], EXACT, "the result")
            if problem is not None:
                self.close()
                raise Failed(
                    "wrong",
                    f"{c.label}: a second process, given the same inputs, answered differently "
                    f"({problem}); results must not depend on the process: Python's built-in "
                    "hash() of a string is salted per process (use hashlib), and neither id() "
                    "nor the order of a set of strings is stable",
                    self.output(),
                )

    @staticmethod
    def _compare(
        drill: Drill, case: Case, got: object, expected: object, inputs: FunctionCall | Trace
    ) -> str | None:
        """Compare with the drill's rules; a result too odd to compare is itself a mismatch."""
        try:
            return drill.compare(case, got, expected, inputs)
        except Exception as exc:
            kind = type(got).__name__
            return (
                f"the returned {kind} could not be compared with the expected "
                f"{type(expected).__name__} ({type(exc).__name__}: {str(exc)[:200]})"
            )

    def _check_untouched(self, before: FunctionCall | Trace, after: object, label: str) -> None:
        if self.allows_mutation or not isinstance(before, FunctionCall):
            return
        changed = find_mutation(before, after)
        if changed is not None:
            self.close()
            raise Failed(
                "rejected",
                f"{label}: the submission changed {changed} in place; leave the inputs as they "
                "are and return new values (the judge hands every call a copy and checks it)",
                self.output(),
            )

    def _check_digest(self, before: FunctionCall | Trace, after: object, label: str) -> None:
        """Compare the digest of a timed call's inputs after the call with the pristine ones."""
        if self.allows_mutation or not isinstance(before, FunctionCall):
            return
        if not isinstance(after, str) or after != wire.digest(before):
            self.close()
            raise Failed(
                "rejected",
                f"{label}: the submission changed its inputs in place; leave the inputs as "
                "they are and return new values (the judge checks every timed call it samples)",
                self.output(),
            )

    def time_round(
        self,
        drill: Drill,
        case: Case,
        pool: Pool,
        *,
        per_call_s: float,
        options: TimingOptions,
        device: str,
        samples: int,
        label: str,
    ) -> Round:
        """Time the entry on a pool of fresh inputs and re-check `samples` of its calls.

        The pool arrives first and the timing command right behind it; the wall clock runs
        from the moment the pool is handed over until the report arrives, so decoding it is
        the only untimed work in between, and that is bounded by the judge's own decode. The
        reported times are added up against that clock (see `check_timer`).
        """
        limits = self.limits
        cuda = device == "cuda"
        # A process's rounds together must give at least `min_blocks` blocks.
        min_blocks = options.blocks_per_round
        number = 1 if cuda else timing.calls_per_block(per_call_s, options.min_block_s)
        number = max(1, min(number, len(pool.items) // min_blocks))
        command = wire.encode(
            {
                "cmd": "time",
                "calls_per_block": number,
                "budget_s": pool.budget_s,
                "min_blocks": min_blocks,
            }
        )
        written = self.send(pool.payload, limits.case_s + pool.transfer_s, f"{label} timing")
        self.send(command, limits.case_s, f"{label} timing")
        expected_s = max(pool.budget_s, min_blocks * number * per_call_s)
        deadline = 3 * expected_s + limits.case_s + 3 * pool.judge_decode_s + pool.transfer_s
        reply = self.expect("timed", deadline, f"{label} timing")
        window = reply.at - written
        blocks = self._validated_blocks(reply.obj, len(pool.items), number, cuda, label)
        total = sum(blocks)
        if total > window + TIMER_UPPER_SLACK_S:
            # Both sides read the same monotonic clock: more time than passed is impossible.
            self.close()
            raise Failed(
                "rejected",
                f"{label}: the sandbox reported {format_seconds(total)} of calls in a "
                f"{format_seconds(window)} wall-clock window; patching the timer is not allowed",
                self.output(),
            )
        if not cuda:
            # On CUDA, flushes and synchronisation dominate the wall clock: no lower bound.
            decode_s = reply.obj.get("decode_s")
            reported_decode = decode_s if isinstance(decode_s, float) and decode_s > 0 else 0.0
            allowance = min(reported_decode, 3 * pool.judge_decode_s + 0.03)
            self._timer.add(total, max(0.0, window - allowance))
        calls = len(blocks) * number
        if samples > 0:
            self._recheck(drill, case, pool.items[:calls], samples, label)
        return Round([b / number for b in blocks], calls, str(reply.obj.get("stopped_by", "")))

    def check_timer(
        self,
        drill: Drill,
        case: Case,
        seeds: SeedStream,
        options: TimingOptions,
        *,
        per_call_s: float,
        item_bytes: int,
        device: str,
        progress: Callable[[str], None],
        label: str,
    ) -> None:
        """Reject a process whose reported times, added up, fall short of the wall clock.

        A shortfall is re-measured once in a longer round of its own before the verdict: on a
        busy machine the judge itself may be scheduled late, while a patched timer falls short
        every time.
        """
        if self._timer.agrees():
            return
        progress(f"{label}: the timer disagreed with the wall clock; timing again")
        self._timer = _TimerCheck()
        budget = max(TIMER_VERIFY_S, options.budget_s)
        pool = make_pool(
            drill, case, seeds, options, per_call_s, item_bytes, budget_s=budget, device=device
        )
        self.time_round(
            drill,
            case,
            pool,
            per_call_s=per_call_s,
            options=options,
            device=device,
            samples=0,
            label=label,
        )
        if not self._timer.agrees():
            self.close()
            raise Failed("rejected", f"{label}: {self._timer.describe()}", self.output())

    def warm_up(self, warm: WarmUp, label: str) -> float:
        """Run the warm-up calls; return an estimate of one call's time in seconds."""
        limits = self.limits
        sent = self.send(warm.payload, limits.case_s + len(warm.payload) / 50e6, f"{label} warm-up")
        reply = self.expect("warmed", limits.case_s * warm.count, f"{label} warm-up")
        outside = (reply.at - sent) / warm.count
        reported = [x for x in reply.obj.get("per_call_s", []) if isinstance(x, float) and x > 0]
        # The sandbox's own figure only sizes the pool; the wall clock bounds it from above.
        per_call = min(statistics.median(reported), outside) if reported else outside
        return max(per_call, 1e-8)

    def _validated_blocks(
        self, obj: dict[str, Any], n_items: int, number: int, cuda: bool, label: str
    ) -> list[float]:
        raw = obj.get("block_s")
        blocks: list[Any] = raw if isinstance(raw, list) else []
        ok = isinstance(raw, list) and all(
            isinstance(b, float) and math.isfinite(b) and b >= 0 for b in blocks
        )
        if ok:
            # A budget may end the round early, but never before its first block.
            ok = 1 <= len(blocks) <= n_items // number and obj.get("calls_per_block") == number
        if not ok or not blocks:
            self.close()
            raise Failed("rejected", f"{label}: the timing report was tampered with")
        return list(blocks)

    def _recheck(
        self, drill: Drill, case: Case, pool: Sequence[FunctionCall | Trace], k: int, label: str
    ) -> None:
        picks = sorted(secrets.SystemRandom().sample(range(len(pool)), min(k, len(pool))))
        payload = wire.encode({"cmd": "sample", "indices": picks})
        self.send(payload, self.limits.case_s, f"{label} re-check")
        reply = self.expect("samples", self.limits.case_s * 2, f"{label} re-check")
        raw = reply.obj.get("items")
        items: list[Any] = raw if isinstance(raw, list) else []
        if (
            not isinstance(raw, list)
            or [it.get("i") if isinstance(it, dict) else None for it in items] != picks
        ):
            self.close()
            raise Failed("rejected", f"{label}: the re-checked results did not come back")
        for item in items:
            i = item["i"]
            self._check_digest(pool[i], item.get("after_digest"), f"{label}, timed call {i + 1}")
            expected = drill.reference(pool[i])
            problem = self._compare(drill, case, item.get("output"), expected, pool[i])
            if problem is not None:
                self.close()
                raise Failed(
                    "wrong",
                    f"{label}: timed call {i + 1} of {len(pool)} returned a result that does not "
                    f"match its own inputs ({problem}); every call must compute its result from "
                    "its inputs, not reuse or cache an earlier one",
                    self.output(),
                )


@dataclass
class TimedSide:
    """One process timed on a bench case, with what all its rounds share."""

    process: EntryProcess
    drill: Drill
    case: Case
    seeds: SeedStream
    options: TimingOptions
    device: str
    progress: Callable[[str], None]
    label: str
    per_call_s: float = 1e-3
    item_bytes: int = 1
    timing: ProcessTiming = field(default_factory=ProcessTiming)

    def warm_up(self, warm: WarmUp) -> None:
        """Run the warm-up calls and keep the estimate of a call's cost."""
        self.progress(f"{self.label}: warming up")
        self.per_call_s = self.process.warm_up(warm, self.label)
        self.item_bytes = warm.item_bytes

    def time_round(self, pool: Pool, samples: int) -> Round:
        """Time one round on `pool` and keep it."""
        self.progress(f"{self.label}: timing up to {len(pool.items)} calls")
        measured = self.process.time_round(
            self.drill,
            self.case,
            pool,
            per_call_s=self.per_call_s,
            options=self.options,
            device=self.device,
            samples=samples,
            label=self.label,
        )
        self.timing.rounds.append(measured)
        return measured

    def check_timer(self) -> None:
        """Check the rounds' reported times against the wall clock (see EntryProcess)."""
        self.process.check_timer(
            self.drill,
            self.case,
            self.seeds,
            self.options,
            per_call_s=self.per_call_s,
            item_bytes=self.item_bytes,
            device=self.device,
            progress=self.progress,
            label=self.label,
        )


def start_entry(
    launcher: Launcher,
    job_dir: Path,
    *,
    source: str,
    drill: Drill,
    entry: str,
    device: str,
    allows_mutation: bool,
    guarded: Sequence[LibraryCall] = (),
    kernel: str | None = None,
    interpret: bool = False,
    files: dict[str, str] | None = None,
    exports: Sequence[str] = (),
) -> EntryProcess:
    """Write the job directory and start the entry in the sandbox."""
    write_job_dir(
        job_dir,
        source=source,
        entry=entry,
        kind=drill.kind,
        needs_torch=drill.needs_torch,
        device=device,
        threads=launcher.threads,
        limits=launcher.limits,
        guarded=guarded,
        kernel=kernel,
        interpret=interpret,
        files=files,
        exports=exports,
    )
    proc = launcher.start(job_dir, ENTRY_SCRIPT)
    return EntryProcess(proc, launcher.limits, allows_mutation=allows_mutation)
