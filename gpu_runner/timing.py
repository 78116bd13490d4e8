"""Measuring a call credibly, and summarising what was measured.

The measuring loops run inside the sandbox (the judge copies this file there, so it needs only
the standard library; torch is imported for the CUDA path alone). The summaries run on the
judge's side.

CPU: blocked autorange in the manner of `torch.utils.benchmark`: calls are grouped into blocks
long enough for the timer's resolution not to matter, each call gets inputs it has never seen,
and the garbage collector is paused so a collection is not billed to an unlucky block.

CUDA: one call per sample, timed with CUDA events around the call only, after an L2 flush and a
synchronisation, repeated until the standard error of the mean is under 0.1 % of the mean (the
rule GPU MODE's KernelBot uses) or the time budget or the supply of fresh inputs runs out.
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

CUDA_TARGET_REL_STDERR = 0.001
# Below this many paired rounds the whole range of their speed-ups counts as noise.
FEW_ROUNDS = 8
CUDA_MIN_RUNS = 10
# Twice the largest L2 in service (H100/H200: 50 MiB; B200: 126 MiB) so a flush evicts it all.
L2_FLUSH_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class BlockTimes:
    """What one timed phase measured: per-block seconds and the calls in each block."""

    block_s: list[float]
    calls_per_block: int
    outputs: list[Any]
    stopped_by: str


def time_cpu_blocks(
    call: Callable[[Any], Any],
    items: Sequence[Any],
    calls_per_block: int,
    *,
    budget_s: float | None = None,
    min_blocks: int = 1,
    clock: Callable[[], int] = time.perf_counter_ns,
) -> BlockTimes:
    """Time `call` on each item once, in blocks of `calls_per_block` consecutive calls.

    Stops when the items run out, or once `budget_s` of blocks and `min_blocks` are done.
    """
    outputs: list[Any] = [None] * len(items)
    blocks: list[float] = []
    n_blocks = len(items) // max(1, calls_per_block)
    spent = 0.0
    stopped_by = "inputs"
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        k = 0
        for _ in range(n_blocks):
            if budget_s is not None and spent >= budget_s and len(blocks) >= min_blocks:
                stopped_by = "budget"
                break
            start = clock()
            for _ in range(calls_per_block):
                outputs[k] = call(items[k])
                k += 1
            block = (clock() - start) / 1e9
            blocks.append(block)
            spent += block
    finally:
        if gc_was_enabled:
            gc.enable()
    return BlockTimes(blocks, calls_per_block, outputs, stopped_by)


def time_cuda_events(
    call: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    budget_s: float,
    target_rel_stderr: float = CUDA_TARGET_REL_STDERR,
    min_runs: int = CUDA_MIN_RUNS,
) -> BlockTimes:
    """Time `call` on each item with CUDA events, flushing L2 before every call."""
    import torch

    flush = torch.empty(L2_FLUSH_BYTES // 4, dtype=torch.int32, device="cuda")
    outputs: list[Any] = [None] * len(items)
    samples: list[float] = []
    stopped_by = "inputs"
    deadline = time.perf_counter() + budget_s
    torch.cuda.synchronize()
    for k, item in enumerate(items):
        flush.zero_()
        start = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        end = torch.cuda.Event(enable_timing=True)  # type: ignore[no-untyped-call]
        # Wait for the flush so its cost stays out of the call's events.
        torch.cuda.synchronize()
        start.record()
        outputs[k] = call(item)
        end.record()
        torch.cuda.synchronize()
        samples.append(start.elapsed_time(end) / 1e3)
        if len(samples) >= min_runs:
            mean = statistics.fmean(samples)
            err = statistics.stdev(samples) / math.sqrt(len(samples))
            if mean > 0 and err / mean < target_rel_stderr:
                stopped_by = "precision"
                break
        if time.perf_counter() > deadline:
            stopped_by = "budget"
            break
    del flush
    return BlockTimes(samples, 1, outputs[: len(samples)], stopped_by)


@dataclass(frozen=True)
class Summary:
    """Statistics of per-call times in seconds."""

    runs: int
    median: float
    mean: float
    stderr: float
    best: float
    worst: float
    spread: float
    process_medians: list[float]

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as plain data."""
        return asdict(self)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Return the `q` quantile of sorted values by linear interpolation."""
    if not sorted_values:
        raise ValueError("no values")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarise(per_process: Sequence[Sequence[float]]) -> Summary:
    """Summarise per-call times gathered in one or more fresh processes."""
    values = sorted(v for run in per_process for v in run)
    if not values:
        raise ValueError("no timings to summarise")
    median = quantile(values, 0.5)
    mean = statistics.fmean(values)
    stderr = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0
    iqr = quantile(values, 0.75) - quantile(values, 0.25)
    return Summary(
        runs=len(values),
        median=median,
        mean=mean,
        stderr=stderr,
        best=values[0],
        worst=values[-1],
        spread=iqr / median if median > 0 else 0.0,
        process_medians=[statistics.median(run) for run in per_process if run],
    )


def relative_noise(summary: Summary) -> float:
    """Return the relative noise of a measurement: within and between processes, and stderr."""
    if summary.median <= 0:
        return 0.0
    medians = summary.process_medians
    between = (max(medians) - min(medians)) / summary.median if len(medians) > 1 else 0.0
    # Half the IQR is the typical distance of a run from the median.
    return max(summary.spread / 2, between, 2 * summary.stderr / summary.median)


@dataclass(frozen=True)
class Paired:
    """Speed-up from rounds that timed the submission and the reference back to back."""

    speedup: float
    noise: float
    rounds: int
    tie: bool


def paired_speedup(
    ratio_groups: Sequence[Sequence[float]], submission: Summary, reference: Summary
) -> Paired:
    """Return the median of per-round speed-ups (reference / submission) and whether it ties.

    `ratio_groups` holds one list of round ratios per pair of fresh processes. Rounds
    alternate between the two processes a fraction of a second apart, so a change in the
    machine's load moves both sides of a ratio alike. The noise is the larger of the ratios'
    interquartile range and the disagreement between process pairs (two fresh processes of
    the same code can differ by several percent on a shared CPU). With fewer than three rounds
    the unpaired noise of both summaries stands in.
    """
    groups = [sorted(r for r in g if r > 0 and math.isfinite(r)) for g in ratio_groups]
    groups = [g for g in groups if g]
    clean = sorted(r for g in groups for r in g)
    if len(clean) < 3:
        speedup = reference.median / submission.median if submission.median > 0 else 0.0
        noise = max(relative_noise(submission), relative_noise(reference))
    else:
        speedup = quantile(clean, 0.5)
        noise = (quantile(clean, 0.75) - quantile(clean, 0.25)) / speedup
        if len(groups) > 1:
            medians = [quantile(g, 0.5) for g in groups]
            noise = max(noise, (max(medians) - min(medians)) / speedup)
        # Few rounds on a busy machine understate the quartiles: the 95% confidence interval
        # of the mean log speed-up bounds the noise from below, so timing may stop early, and
        # under FEW_ROUNDS rounds so does their whole range.
        noise = max(noise, math.expm1(confidence_halfwidth([math.log(r) for r in clean])))
        if len(clean) < FEW_ROUNDS:
            noise = max(noise, (clean[-1] - clean[0]) / speedup)
    # A ratio r and 1/r are the same distance from a tie.
    distance = abs(math.log(speedup)) if speedup > 0 else math.inf
    return Paired(speedup, noise, len(clean), distance <= math.log1p(noise))


# Two-sided 97.5% quantiles of Student's t by degrees of freedom; 1.96 beyond the table.
_T_975 = (12.71, 4.30, 3.18, 2.78, 2.57, 2.45, 2.36, 2.31, 2.26, 2.23, 2.20, 2.18, 2.16, 2.14)


def confidence_halfwidth(values: Sequence[float]) -> float:
    """Return the half-width of the 95% confidence interval of the values' mean."""
    n = len(values)
    if n < 2:
        return math.inf
    t = _T_975[n - 2] if n - 2 < len(_T_975) else 1.96
    return t * statistics.stdev(values) / math.sqrt(n)


def calls_per_block(per_call_s: float, min_block_s: float) -> int:
    """Return how many calls make a block last at least `min_block_s` (a power of ten)."""
    number = 1
    while number * per_call_s < min_block_s and number < 1_000_000:
        number *= 10
    return number
