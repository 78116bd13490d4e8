"""Judging one submission: correctness in the sandbox, then timing beside the reference.

`judge(drill_id, source)` is the entry point for the command line, the local runner and the
workers. It never shows a member a stack trace of the judge: every outcome of the member's code
becomes a `RunResult` with a verdict and an actionable message, and what is not the member's
doing (an unknown drill, no sandbox on this machine) raises a short, clear error instead.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import logging
import math
import os
import platform
import secrets
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from gpu_runner import timing
from gpu_runner.harness import (
    CaseInput,
    EntryProcess,
    Failed,
    ProcessTiming,
    SeedStream,
    TimedSide,
    TimingOptions,
    WarmUp,
    format_seconds,
    make_pool,
    make_warm_up,
    pregenerate,
    start_entry,
)
from gpu_runner.library_calls import find_library_calls
from gpu_runner.protocol import MAX_SOURCE_BYTES, RunJob, RunResult, Timing, TimingStats, Verdict
from gpu_runner.sandbox import Limits, SandboxUnavailableError, job_directory, make_launcher

if TYPE_CHECKING:
    from gpu_runner.calling import FunctionCall, Trace
    from gpu_runner.drills.base import Case, Drill

log = logging.getLogger(__name__)
_T = TypeVar("_T")
# A pair of processes times at least this many rounds, however late it is.
MIN_ROUNDS_PER_PAIR = 2
UNSAFE_PREFIX = "[UNSAFE: judged without a sandbox, for development only] "
INTERPRETER_NOTE = (
    "timing needs a GPU runner: on this CPU runner the Triton kernel ran under Triton's "
    "interpreter (TRITON_INTERPRET=1), which judges correctness only; submit to a `cuda` queue "
    "to be timed"
)
MAX_OUTPUT_CHARS = 4000

__all__ = [
    "JudgeError",
    "JudgeOptions",
    "SandboxUnavailableError",
    "judge",
    "judge_job",
]


class JudgeError(RuntimeError):
    """A request the judge cannot serve (not a verdict on the code): safe to show as is."""


class _ReferenceFailed(Exception):
    """The trusted reference could not be timed; says nothing about the member's code."""


@dataclass(frozen=True)
class JudgeOptions:
    """How to judge: device, timing, isolation and limits."""

    device: str = "auto"
    timing: bool = True
    processes: int = 3
    threads: int = 1
    bench_case: str | Case | None = None
    limits: Limits = field(default_factory=Limits)
    timing_options: TimingOptions = field(default_factory=TimingOptions)
    unsafe_no_sandbox: bool = False


def resolve_device(requested: str, drill: Drill) -> str:
    """Return "cuda" or "cpu" for a request of "auto", "cpu" or "cuda"."""
    if requested not in ("auto", "cpu", "cuda"):
        raise JudgeError(f"unknown device {requested!r}; use auto, cpu or cuda")
    if requested == "cpu" or not drill.needs_torch:
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if requested == "cuda" and not available:
        raise JudgeError("a CUDA device was requested but this machine has none")
    return "cuda" if available else "cpu"


@cache
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: str, threads: int) -> str:
    """Describe the device timings were taken on."""
    if device == "cuda":
        import torch

        return f"cuda: {torch.cuda.get_device_name()}"
    return f"cpu: {_cpu_model()} ({threads} thread{'s' if threads != 1 else ''})"


def _bench_case(drill: Drill, wanted: str | Case | None) -> Case | None:
    if wanted is not None and not isinstance(wanted, str):
        return wanted
    if wanted is None:
        return drill.bench_cases[0] if drill.bench_cases else None
    for case in drill.bench_cases:
        if case.name == wanted:
            return case
    names = ", ".join(c.name for c in drill.bench_cases) or "none"
    raise JudgeError(f"drill {drill.id!r} has no bench case {wanted!r}; it has: {names}")


def _precheck(source: str) -> tuple[Verdict, str] | None:
    size = len(source.encode("utf-8", "replace"))
    if size > MAX_SOURCE_BYTES:
        return "rejected", (
            f"the file is {size // 1024} KiB; submissions are limited to "
            f"{MAX_SOURCE_BYTES // 1024} KiB"
        )
    try:
        compile(source, "submission.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "somewhere"
        text = (exc.text or "").rstrip()
        snippet = f"\n  {text}" if text else ""
        return "error", f"submission.py {where}: SyntaxError: {exc.msg}{snippet}"
    except (ValueError, MemoryError, RecursionError) as exc:
        return "error", f"submission.py cannot be compiled: {type(exc).__name__}: {exc}"
    return None


def _stats(summary: timing.Summary, processes: int) -> TimingStats:
    return TimingStats(
        runs=summary.runs,
        processes=processes,
        median=summary.median,
        mean=summary.mean,
        stderr=summary.stderr,
        best=summary.best,
        worst=summary.worst,
        spread=summary.spread,
        process_medians=tuple(summary.process_medians),
    )


def build_timing(
    case: Case,
    device: str,
    threads: int,
    submission: list[ProcessTiming],
    reference: list[ProcessTiming],
    ratios: list[list[float]],
) -> Timing:
    """Summarise the processes of both sides, and their paired rounds, into a `Timing`."""
    sub = timing.summarise([p.per_call_s for p in submission])
    ref = timing.summarise([p.per_call_s for p in reference])
    paired = timing.paired_speedup(ratios, sub, ref)
    n = len(submission)
    if device == "cuda":
        stops = sorted(set().union(*(p.stopped_by for p in submission)))
        method = (
            "CUDA events around each call, L2 flushed and synchronised between calls, fresh "
            "inputs per call, until the standard error is under 0.1% of the mean or the "
            f"budget is spent (stopped by: {', '.join(stops)})"
        )
    else:
        method = (
            f"blocked autorange on {threads} thread{'s' if threads != 1 else ''}, fresh inputs "
            f"per call, {n} fresh process{'es' if n != 1 else ''} per side"
        )
    method += (
        f"; {paired.rounds} rounds alternating with the reference, each pair of processes "
        "until its verdict settled or the judging's wall budget ran out"
    )
    diff = 1 / paired.speedup - 1 if paired.speedup > 0 else 0.0
    if paired.tie:
        note = (
            f"the difference to the reference ({diff:+.1%} time) is within the measured noise "
            f"(±{paired.noise:.1%}): a tie, not a ranking"
        )
    else:
        faster = "faster" if paired.speedup > 1 else "slower"
        note = (
            f"{paired.speedup:.2f}x the reference's speed ({faster}), beyond the measured "
            f"noise (±{paired.noise:.1%})"
        )
    return Timing(
        case=case.name,
        device=device_name(device, threads),
        method=method,
        runs=sub.runs,
        processes=n,
        median=sub.median,
        mean=sub.mean,
        stderr=sub.stderr,
        best=sub.best,
        worst=sub.worst,
        spread=sub.spread,
        reference=_stats(ref, len(reference)),
        speedup=paired.speedup,
        tie_with_reference=paired.tie,
        rounds=paired.rounds,
        note=note,
    )


def _timing_line(t: Timing) -> str:
    verdict = (
        "a tie with the reference"
        if t.tie_with_reference
        else f"{t.speedup:.2f}x the reference's speed"
    )
    return (
        f"{format_seconds(t.median)} per call on `{t.case}` (median of {t.runs} runs in "
        f"{t.processes} process{'es' if t.processes != 1 else ''}; reference "
        f"{format_seconds(t.reference.median)}): {verdict}"
    )


class _Run:
    """The state of one judging: drill, launcher, seeds and what was learnt so far."""

    def __init__(
        self,
        drill: Drill,
        source: str,
        options: JudgeOptions,
        job_id: str,
        progress: Callable[[str], None],
    ) -> None:
        self.drill = drill
        self.source = source
        self.options = options
        self.job_id = job_id
        self.progress = progress
        self.device = resolve_device(options.device, drill)
        self.launcher = make_launcher(
            options.limits,
            device=self.device,
            threads=options.threads,
            unsafe=options.unsafe_no_sandbox,
        )
        self.launcher.check()
        self.sandbox = self.launcher.describe()
        self.seeds = SeedStream()
        self.started = time.perf_counter()
        self.cases_passed = 0
        self.cases_total = len(drill.all_cases())
        self.output = ""
        self.timing_started: float | None = None
        self.pairs_wanted = 1
        # Kernel drills: a Triton kernel is required (unless the file brings CUDA C++), and on
        # a CPU runner it runs under Triton's interpreter, untimed.
        language = getattr(drill, "kernel_language", None)
        self.kernel: str | None = None if uses_cuda_cpp(source) else language
        self.interpret = self.kernel == "triton" and self.device == "cpu"
        # Bench inputs made while a pair of processes starts (the judge would idle otherwise).
        self.warm: WarmUp | None = None
        self.ready: list[FunctionCall | Trace] = []

    def result(self, verdict: Verdict, message: str, timing_: Timing | None = None) -> RunResult:
        prefix = UNSAFE_PREFIX if self.options.unsafe_no_sandbox else ""
        return RunResult(
            job_id=self.job_id,
            drill=self.drill.id,
            verdict=verdict,
            message=prefix + message,
            cases_passed=self.cases_passed,
            cases_total=self.cases_total,
            timing=timing_,
            sandbox=self.sandbox,
            unsafe=self.options.unsafe_no_sandbox,
            output=self.output[-MAX_OUTPUT_CHARS:],
            duration_s=time.perf_counter() - self.started,
        )

    def _entry(self, job_dir: Path, *, reference: bool) -> EntryProcess:
        drill = self.drill
        return start_entry(
            self.launcher,
            job_dir,
            source=drill.reference_source if reference else drill.with_provided(self.source),
            drill=drill,
            entry=_reference_entry(drill) if reference else drill.entry,
            device=self.device,
            allows_mutation=bool(getattr(drill, "allows_input_mutation", False)),
            # The reference may use what the member may not: only the submission is guarded.
            guarded=() if reference else drill.library_calls,
            kernel=None if reference else self.kernel,
            interpret=self.interpret,
            files=self._files(reference=reference),
        )

    def _files(self, *, reference: bool) -> dict[str, str] | None:
        files_for = getattr(self.drill, "files_for", None)
        return files_for(reference=reference) if files_for is not None else None

    def _start_host(self, job_dir: Path) -> EntryProcess:
        """Start an imported problem's reference in a sandbox of its own and route calls to it."""
        from gpu_runner.calling import FunctionCall
        from gpu_runner.imported import REFERENCE_FUNCTIONS, ImportedDrill

        drill = self.drill
        assert isinstance(drill, ImportedDrill)
        host = start_entry(
            self.launcher,
            job_dir,
            source=drill.reference_source,
            drill=drill,
            entry=drill.reference_entry,
            device=self.device,
            allows_mutation=True,
            files=drill.files_for(reference=True),
            exports=REFERENCE_FUNCTIONS,
        )
        try:
            self._reference_call(host.wait_ready)
        except BaseException:
            host.close()
            raise

        def call(name: str, args: tuple[object, ...], kwargs: dict[str, object]) -> object:
            return host.invoke(
                name, FunctionCall(args, kwargs), f"the problem's reference ({name})"
            )

        drill.host = call
        return host

    def run(self) -> RunResult:
        if not hasattr(self.drill, "files_for"):
            return self._run()
        # An imported problem: its reference answers from a sandbox of its own meanwhile.
        with job_directory() as host_dir:
            try:
                host = self._start_host(host_dir)
            except _ReferenceFailed as exc:
                return self.result("error", f"the problem's reference could not start ({exc})")
            try:
                return self._run()
            finally:
                host.close()
                self.drill.host = None  # type: ignore[attr-defined]

    def _run(self) -> RunResult:
        drill = self.drill
        # Every case is called twice, on fresh values of the same shape, and both results are
        # checked: an answer cached by shape (or by anything but the values) fails here.
        cases = [
            CaseInput(
                c,
                f"{kind} case `{c.name}`" + (", called again on fresh inputs" if again else ""),
                drill.make_inputs(c, self.seeds.next()),
            )
            for again in (False, True)
            for kind, group in (("public", drill.public_cases), ("secret", drill.secret_cases))
            for c in group
        ]
        timed = self.options.timing and not self.interpret
        bench = _bench_case(drill, self.options.bench_case) if timed else None
        submission: list[ProcessTiming] = []
        reference: list[ProcessTiming] = []
        ratios: list[list[float]] = []
        most = self.options.processes if bench is not None else 1
        self.pairs_wanted = min(most, max(1, self.options.timing_options.min_processes))
        try:
            for index in range(most):
                if index >= self.pairs_wanted and not self._room_for_another_pair(index):
                    break
                self._process_pair(index, cases, bench, submission, reference, ratios)
        except _ReferenceFailed as exc:
            return self.result(
                "passed",
                f"passed all {self.cases_total} cases; timing unavailable: the reference run "
                f"failed ({exc})",
            )
        except Failed as failure:
            self.output = failure.output or self.output
            return self.result(failure.verdict, failure.message)
        passed = f"passed all {self.cases_total} cases"
        if bench is None:
            note = "" if self.options.timing else " (not timed)"
            if self.interpret:
                note = f"; {INTERPRETER_NOTE}"
            if self.options.timing and not drill.bench_cases:
                note = " (this drill has no bench case to time)"
            return self.result("passed", passed + note)
        timing_ = build_timing(
            bench, self.device, self.options.threads, submission, reference, ratios
        )
        return self.result("passed", f"{passed}; {_timing_line(timing_)}", timing_)

    def _process_pair(
        self,
        index: int,
        cases: list[CaseInput],
        bench: Case | None,
        submission: list[ProcessTiming],
        reference: list[ProcessTiming],
        ratios: list[list[float]],
    ) -> None:
        """Start a fresh submission process (and a reference one to time beside it) and use them.

        The first submission process checks every case before any timing. The reference
        process starts at the same time, so its start-up overlaps the checking.
        """
        with job_directory() as sub_dir, job_directory() as ref_dir:
            if index == 0:
                self.progress("starting the sandbox")
            sub = self._entry(sub_dir, reference=False)
            ref: EntryProcess | None = None
            try:
                if bench is not None:
                    ref = self._reference_call(lambda: self._entry(ref_dir, reference=True))
                    # Both processes are importing torch for a second or more: make this pair's
                    # warm-up and first round of inputs meanwhile, not after.
                    opts = self.options.timing_options
                    self.warm = make_warm_up(self.drill, bench, self.seeds, opts)
                    self.ready = pregenerate(self.drill, bench, self.seeds, opts)
                sub.wait_ready()
                if index == 0:
                    sub.check_cases(self.drill, cases, self.progress)
                    self.cases_passed = self.cases_total
                    if self.drill.same_across_processes:
                        self._check_in_second_process(cases, sub.outputs)
                if bench is not None and ref is not None:
                    r = ref
                    self._reference_call(r.wait_ready)
                    sub_t, ref_t, paired = self._time_pair(sub, r, bench, index)
                    submission.append(sub_t)
                    reference.append(ref_t)
                    ratios.append(paired)
            finally:
                sub.close()
                if ref is not None:
                    ref.close()
                if index == 0:
                    self.output = sub.output()

    def _timing_elapsed(self) -> float:
        return 0.0 if self.timing_started is None else time.perf_counter() - self.timing_started

    def _timing_budget(self) -> float:
        """Return the wall seconds the timing stage may take: what the judging has left."""
        assert self.timing_started is not None
        spent = self.timing_started - self.started
        return max(0.0, self.options.timing_options.wall_budget_s - spent)

    def _room_for_another_pair(self, done: int) -> bool:
        """Return whether one more pair of processes fits in the judging's wall budget."""
        if self.timing_started is None:
            return False
        elapsed = self._timing_elapsed()
        return elapsed + elapsed / max(1, done) <= self._timing_budget()

    def _pair_deadline(self, index: int) -> float:
        """Return when pair `index` should stop adding rounds: its share of the wall budget."""
        assert self.timing_started is not None
        share = min(1.0, (index + 1) / self.pairs_wanted)
        return self.timing_started + self._timing_budget() * share

    def _check_in_second_process(self, cases: list[CaseInput], outputs: list[object]) -> None:
        """Replay the checked cases in another fresh process: results must not differ."""
        with job_directory() as again_dir:
            again = self._entry(again_dir, reference=False)
            try:
                again.wait_ready()
                again.check_same_as(
                    cases, outputs, lambda msg: self.progress(f"{msg}, in a second process")
                )
            finally:
                again.close()

    @staticmethod
    def _reference_call(fn: Callable[[], _T]) -> _T:
        """Run a step of the reference's process; its failure is the judge's, not the member's."""
        try:
            return fn()
        except Failed as failure:
            raise _ReferenceFailed(failure.message) from None

    def _time_pair(
        self, sub: EntryProcess, ref: EntryProcess, bench: Case, index: int
    ) -> tuple[ProcessTiming, ProcessTiming, list[float]]:
        """Warm both up, then time them in alternating rounds; return both and the ratios."""
        opts = self.options.timing_options
        n = self.options.processes

        def side(process: EntryProcess, who: str) -> TimedSide:
            label = f"timing the {who} (fresh process {index + 1}, up to {n})"
            return TimedSide(
                process, self.drill, bench, self.seeds, opts, self.device, self.progress, label
            )

        mine, theirs = side(sub, "submission"), side(ref, "reference")
        most = max(1, opts.rounds)
        fewest = min(most, max(1, opts.min_rounds))
        budget = opts.round_budget_s
        samples = max(1, math.ceil(opts.samples / fewest))
        if self.timing_started is None:
            self.timing_started = time.perf_counter()
        deadline = self._pair_deadline(index)
        warm = self.warm or make_warm_up(self.drill, bench, self.seeds, opts)
        self.warm = None
        mine.warm_up(warm)
        self._reference_call(partial(theirs.warm_up, warm))
        ratios: list[float] = []
        for r in range(most):
            late = time.perf_counter() > deadline
            if r >= fewest and (late or rounds_settled(ratios, opts.target_rel_error)):
                break
            if late and r >= MIN_ROUNDS_PER_PAIR:
                break  # past the budget: two rounds still give this pair a speed-up of its own
            # Both sides time the same fresh inputs, each unseen by either before.
            self.progress(
                f"{mine.label}: round {r + 1} (at least {fewest}, at most {most})"
                f"{_estimate(ratios)}: generating fresh inputs"
            )
            pool = make_pool(
                self.drill,
                bench,
                self.seeds,
                opts,
                min(mine.per_call_s, theirs.per_call_s),
                max(mine.item_bytes, theirs.item_bytes),
                budget_s=budget,
                device=self.device,
                ready=self.ready,
            )
            # Alternate who goes first, so a drift of the machine favours neither side.
            if (r + index) % 2 == 0:
                s_round = mine.time_round(pool, samples)
                r_round = self._reference_call(partial(theirs.time_round, pool, 0))
            else:
                r_round = self._reference_call(partial(theirs.time_round, pool, 0))
                s_round = mine.time_round(pool, samples)
            if s_round.median > 0:
                ratios.append(r_round.median / s_round.median)
            self.progress(f"{mine.label}: round {r + 1} timed{_estimate(ratios)}")
        mine.check_timer()
        self._reference_call(theirs.check_timer)
        return mine.timing, theirs.timing, ratios


def _reference_entry(drill: Drill) -> str:
    """Return the name the reference's process calls (an imported problem's `ref_kernel`)."""
    named = getattr(drill, "reference_entry", None)
    return str(named) if named else drill.reference_impl.__name__


def rounds_settled(ratios: list[float], target_rel_error: float) -> bool:
    """Return whether a pair's paired rounds have settled its verdict.

    Settled when the 95% confidence interval of the speed-up is narrower than
    `target_rel_error`, or when the whole interval sits on one side of the noise threshold
    (a tie however the centre moves within it, or a ranking however it moves).
    """
    logs = [math.log(r) for r in ratios if r > 0 and math.isfinite(r)]
    if len(logs) < 3:
        return False
    half = timing.confidence_halfwidth(logs)
    if half < math.log1p(target_rel_error):
        return True
    clean = sorted(math.exp(x) for x in logs)
    median = timing.quantile(clean, 0.5)
    spread = (timing.quantile(clean, 0.75) - timing.quantile(clean, 0.25)) / median
    threshold = math.log1p(max(spread, math.expm1(half)))
    centre = abs(statistics.fmean(logs))
    return abs(centre - threshold) > half


def _estimate(ratios: list[float]) -> str:
    """Render the running speed-up estimate for a progress line."""
    logs = [math.log(r) for r in ratios if r > 0 and math.isfinite(r)]
    if len(logs) < 2:
        return ""
    stderr = statistics.stdev(logs) / math.sqrt(len(logs))
    return f", speed-up so far {math.exp(statistics.fmean(logs)):.2f}x ± {math.expm1(stderr):.1%}"


def uses_cuda_cpp(source: str) -> bool:
    """Return whether the file builds CUDA C++ (torch.utils.cpp_extension, e.g. load_inline)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            if "cpp_extension" in module or any("cpp_extension" in n for n in names):
                return True
            if any(n in ("load_inline", "load") and "cpp_extension" in module for n in names):
                return True
        if isinstance(node, ast.Attribute) and node.attr in ("cpp_extension", "load_inline"):
            return True
        if isinstance(node, ast.Name) and node.id == "load_inline":
            return True
    return False


def defines_triton_kernel(source: str) -> bool:
    """Return whether the file defines a function decorated with Triton's jit (or autotune)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for decorator in node.decorator_list:
                text = ast.unparse(decorator)
                if text.split("(", 1)[0].rsplit(".", 1)[-1] in ("jit", "autotune", "heuristics"):
                    return True
    return False


def cuda_compiler() -> str | None:
    """Return the path of the CUDA compiler this runner would build CUDA C++ with, if any."""
    found = shutil.which("nvcc")
    if found:
        return found
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    candidate = Path(home) / "bin" / "nvcc"
    return str(candidate) if candidate.is_file() else None


def kernel_precheck(drill: Drill, source: str, device: str) -> tuple[Verdict, str] | None:
    """Refuse what this runner cannot judge: CUDA C++ off a CUDA compiler, a kernel drill without
    a Triton kernel. Raise JudgeError when a kernel drill meets a runner without Triton."""
    if uses_cuda_cpp(source):
        if device != "cuda":
            return "rejected", (
                "CUDA C++ (torch.utils.cpp_extension.load_inline) is judged only on a `cuda` "
                "runner with a CUDA compiler, and this runner is CPU-only: submit to a cuda "
                "queue, or write the kernel in Triton"
            )
        if cuda_compiler() is None:
            return "rejected", (
                "CUDA C++ (torch.utils.cpp_extension.load_inline) needs a CUDA compiler (nvcc), "
                "and this cuda runner has none: write the kernel in Triton, or ask for a runner "
                "with the CUDA toolkit"
            )
        return None
    if getattr(drill, "kernel_language", None) != "triton":
        return None
    if importlib.util.find_spec("triton") is None:
        raise JudgeError(
            "this runner cannot judge Triton kernels: Triton is not installed here "
            "(pip install 'studybot[kernels]')"
        )
    if not defines_triton_kernel(source):
        return "rejected", (
            f"this is a kernel drill: submission.py must define a @triton.jit kernel and launch "
            f"it from `{drill.entry}` (see `drill template {drill.id}`)"
        )
    return None


def judge(
    drill_id: str | Drill,
    source: str,
    *,
    options: JudgeOptions | None = None,
    job_id: str = "",
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Judge `source` against a drill (its id, or the drill itself) and return the verdict.

    Raises UnknownDrillError for an unknown drill, SandboxUnavailableError when no sandbox can
    be set up (unless `options.unsafe_no_sandbox`), and JudgeError for other bad requests.
    """
    from gpu_runner.drills import get_drill

    drill = get_drill(drill_id) if isinstance(drill_id, str) else drill_id
    opts = options or JudgeOptions()
    if opts.processes < 1:
        raise JudgeError("at least one timed process is needed")
    run = _Run(drill, source, opts, job_id, progress or (lambda _msg: None))
    early = _precheck(source)
    if early is not None:
        return run.result(*early)
    uses = find_library_calls(source, drill.library_calls)
    if uses:
        return run.result("rejected", uses[0].message())
    refused = kernel_precheck(drill, source, run.device)
    if refused is not None:
        return run.result(*refused)
    if hasattr(drill, "files_for"):
        from gpu_runner.imported import imports_reference

        if imports_reference(source):
            return run.result(
                "rejected",
                "the submission imports the problem's reference.py; write custom_kernel "
                "yourself (task.py and utils.py may be imported)",
            )
    try:
        return run.run()
    except JudgeError:
        raise  # a bad request (an unknown bench case, say), not a fault of the judge
    except Exception:
        # A fault of the judge itself: logged in full here, while the member gets an id.
        error_id = secrets.token_hex(4)
        log.exception("judging %s failed (error id %s)", drill.id, error_id)
        return run.result(
            "error",
            f"the judge itself failed on this submission (error id {error_id}); this is not "
            "a verdict on your code, please report it",
        )


def judge_job(
    job: RunJob,
    *,
    options: JudgeOptions | None = None,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Judge a `RunJob`; its device, timing and process count override `options`.

    A job routed to a device kind (a queue) is judged on that kind's device: "auto" on the
    `cpu` queue means the CPU even on a machine that has a GPU.
    """
    base = options or JudgeOptions()
    device: str = job.device
    if device == "auto" and job.device_kind:
        device = "cuda" if job.kind.startswith("cuda") else "cpu"
    opts = dataclasses.replace(base, device=device, timing=job.timing, processes=job.processes)
    drill: str | Drill = job.drill
    if job.problem is not None:
        from gpu_runner.imported import ImportedDrill

        if job.problem.name != job.drill:
            raise JudgeError(f"the job names drill {job.drill!r} but carries {job.problem.name!r}")
        drill = ImportedDrill(job.problem)
    return judge(drill, job.source, options=opts, job_id=job.job_id, progress=progress)
