"""Benchmark the judge: sandbox start-up overhead, and how steady its timings are per drill.

Run from the repository root:

    python bench/judge.py                       # everything (long: every drill, 5 judgings)
    python bench/judge.py --drills softmax,gelu --judgings 3
    python bench/judge.py --skip-drills         # start-up overhead only

Start-up: a bare Python process started 20 times directly and 20 times through the sandbox
(cgroups, rlimits, bubblewrap, setpriv, seccomp), plus the same with `import torch`, which is
what every judged process pays. Medians.

Per drill: the same correct solution (the drill's reference, as a standalone file) judged N
times with timing on, with the judge's production settings. For each drill it prints the wall
time of a judging (median and worst; the goal is at most 15 s each on a CPU), the median
per-call time of every judging, the spread of those medians ((max - min) / median and IQR /
median), the mean within-judging spread the result reports, the speed-up range against the
reference, and how many judgings called it a tie, which for the reference against itself they
should. The machine's load average is printed before and after: on a shared machine it
explains much of the spread.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from gpu_runner.harness import TimingOptions, format_seconds
from gpu_runner.judge import JudgeOptions, judge, resolve_device
from gpu_runner.sandbox import Limits, job_directory, make_launcher


def _median_start(cmd_runner: Any, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        cmd_runner()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def startup_overhead(runs: int, torch_runs: int) -> dict[str, float]:
    """Return median start-to-exit seconds of plain and sandboxed Python processes."""
    launcher = make_launcher(Limits())
    launcher.check()
    figures: dict[str, float] = {}
    for label, body, n in (("bare", "pass\n", runs), ("torch", "import torch\n", torch_runs)):
        if n <= 0:
            continue
        with job_directory() as job:
            script = job / "probe.py"
            script.write_text(body)
            script.chmod(0o644)

            def plain(path: Path = script) -> None:
                subprocess.run([sys.executable, "-I", "-B", str(path)], check=True)

            def sandboxed(job_dir: Path = job) -> None:
                exit = launcher.start(job_dir, "probe.py").close(grace_s=120)
                if exit.status != 0:
                    raise RuntimeError(f"sandboxed probe failed: {exit}")

            figures[f"{label}_plain_s"] = _median_start(plain, n)
            figures[f"{label}_sandboxed_s"] = _median_start(sandboxed, n)
        figures[f"{label}_overhead_s"] = (
            figures[f"{label}_sandboxed_s"] - figures[f"{label}_plain_s"]
        )
    return figures


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


SOLUTIONS = Path(__file__).resolve().parents[1] / "tests" / "gpu_runner" / "drills" / "solutions"


def bench_source(drill: Any) -> str:
    """Return the file to judge: the reference, or for a kernel drill a correct Triton kernel."""
    if getattr(drill, "kernel_language", None):
        return sorted((SOLUTIONS / drill.id).glob("ok_*.py"))[0].read_text()
    return str(drill.reference_source)


def drill_spread(drill_id: str, judgings: int, options: JudgeOptions) -> dict[str, Any]:
    """Judge the drill's reference `judgings` times and summarise how the timings vary."""
    from gpu_runner.drills import get_drill

    drill = get_drill(drill_id)
    source = bench_source(drill)
    medians: list[float] = []
    speedups: list[float] = []
    spreads: list[float] = []
    ties = 0
    problems: list[str] = []
    case = ""
    device = ""
    started = time.perf_counter()
    walls: list[float] = []
    verdicts: list[str] = []
    for _ in range(judgings):
        began = time.perf_counter()
        result = judge(drill, source, options=options)
        walls.append(time.perf_counter() - began)
        verdicts.append(result.verdict)
        if result.timing is None and result.verdict == "passed" and "interpreter" in result.message:
            continue  # a Triton kernel on a CPU runner: judged for correctness only
        if result.timing is None:
            problems.append(f"{result.verdict}: {result.message[:200]}")
            continue
        t = result.timing
        case, device = t.case, t.device
        medians.append(t.median)
        speedups.append(t.speedup)
        spreads.append(t.spread)
        ties += t.tie_with_reference
    out: dict[str, Any] = {"drill": drill_id, "case": case, "device": device, "problems": problems}
    out["kernel"] = getattr(drill, "kernel_language", None)
    out["verdicts"] = verdicts
    out["wall_s"] = time.perf_counter() - started
    out["judging_wall_s"] = walls
    out["judging_wall_median_s"] = statistics.median(walls) if walls else 0.0
    out["judging_wall_max_s"] = max(walls) if walls else 0.0
    if medians:
        m = statistics.median(medians)
        q = statistics.quantiles(medians, n=4) if len(medians) > 1 else [m, m, m]
        out.update(
            judgings=len(medians),
            median_s=m,
            medians_s=medians,
            range_over_median=(max(medians) - min(medians)) / m,
            iqr_over_median=(q[2] - q[0]) / m,
            mean_within_spread=statistics.fmean(spreads),
            speedups=speedups,
            speedup_min=min(speedups),
            speedup_max=max(speedups),
            ties=ties,
        )
    return out


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--startup-runs", type=int, default=20)
    parser.add_argument("--torch-startup-runs", type=int, default=5)
    parser.add_argument("--judgings", type=int, default=5)
    parser.add_argument("--processes", type=int, default=JudgeOptions().processes)
    parser.add_argument("--drills", default="", help="comma-separated ids (default: all)")
    parser.add_argument("--skip-drills", action="store_true")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    report: dict[str, Any] = {}
    print("sandbox start-up (median of runs, start to exit)")
    overhead = startup_overhead(args.startup_runs, args.torch_startup_runs)
    report["startup"] = overhead
    for label in ("bare", "torch"):
        if f"{label}_plain_s" in overhead:
            print(
                f"  {label:6} plain {format_seconds(overhead[f'{label}_plain_s']):>9}  "
                f"sandboxed {format_seconds(overhead[f'{label}_sandboxed_s']):>9}  "
                f"overhead {format_seconds(overhead[f'{label}_overhead_s']):>9}"
            )
    if not args.skip_drills:
        from gpu_runner.drills import DRILLS

        ids = [d for d in args.drills.split(",") if d] or list(DRILLS)
        options = JudgeOptions(device=args.device, processes=args.processes)
        budget = TimingOptions().wall_budget_s
        print(
            f"\ntiming spread: the reference judged {args.judgings}x per drill (up to "
            f"{args.processes} process pairs, {budget:g} s wall budget; goal <= 15 s a judging)"
        )
        print(f"  load average before: {_load()}")
        header = (
            f"  {'drill':20} {'case':24} {'wall p50':>8} {'max':>6} {'median':>9} "
            f"{'range/med':>9} {'IQR/med':>8} {'in-run':>7} {'speed-up':>13} {'ties':>5}"
        )
        print(header)
        report["drills"] = []
        for drill_id in ids:
            row = drill_spread(drill_id, args.judgings, options)
            report["drills"].append(row)
            if "median_s" not in row and row["kernel"] and not row["problems"]:
                print(
                    f"  {drill_id:20} {'(Triton interpreter)':24} "
                    f"{row['judging_wall_median_s']:>7.1f}s {row['judging_wall_max_s']:>5.1f}s "
                    f"correctness only ({', '.join(sorted(set(row['verdicts'])))}); "
                    "timing needs a GPU runner",
                    flush=True,
                )
                continue
            if "median_s" not in row:
                print(f"  {drill_id:20} no timing: {row['problems'][:1]}")
                continue
            print(
                f"  {drill_id:20} {row['case'][:24]:24} "
                f"{row['judging_wall_median_s']:>7.1f}s {row['judging_wall_max_s']:>5.1f}s "
                f"{format_seconds(row['median_s']):>9} "
                f"{row['range_over_median']:>9.1%} {row['iqr_over_median']:>8.1%} "
                f"{row['mean_within_spread']:>7.1%} "
                f"{row['speedup_min']:>5.2f}-{row['speedup_max']:<5.2f}x "
                f"{row['ties']:>2}/{row['judgings']}",
                flush=True,
            )
            for problem in row["problems"]:
                print(f"    ! {problem}")
        kernel_walls = [
            w for row in report["drills"] if row["kernel"] for w in row.get("judging_wall_s", [])
        ]
        if kernel_walls:
            over = sum(w > 30 for w in kernel_walls)
            print(
                f"  Triton interpreter judgings: median {statistics.median(kernel_walls):.1f} s, "
                f"worst {max(kernel_walls):.1f} s; {over} of {len(kernel_walls)} over 30 s"
            )
        walls = [
            w
            for row in report["drills"]
            if not row["kernel"]
            for w in row.get("judging_wall_s", [])
        ]
        if walls:
            over = sum(w > 15 for w in walls)
            print(
                f"  judging wall time: median {statistics.median(walls):.1f} s, worst "
                f"{max(walls):.1f} s; {over} of {len(walls)} judgings over 15 s"
            )
        print(f"  load average after: {_load()}")
        report["load_after"] = _load()
        from gpu_runner.drills import get_drill

        first = get_drill(ids[0]) if ids else None
        if first is not None:
            report["device"] = resolve_device(args.device, first)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
