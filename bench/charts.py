"""The stats chart alone: PNG and SVG draw times (p50, p95), cold and cached, and a profile.

Draws a member's four-panel stats chart for a realistic ~four months of activity, many
times, and prints the figures; `--profile` prints the top of a cProfile of the PNG path;
`--out FILE.png` saves one chart to look at.

    .venv/bin/python bench/charts.py
    .venv/bin/python bench/charts.py --profile --out build/stats.png
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.domain.streaks import StreakToday  # noqa: E402
from bot.services import charts  # noqa: E402
from bot.services.standings import DayActivity, MemberStats, SectionStat  # noqa: E402

TODAY = date(2026, 12, 7)


def sample_stats(member_id: int, seed: int = 7, days: int = 120) -> MemberStats:
    """Return the stats of a busy member: activity on most of the last `days` days."""
    rng = random.Random(seed)
    activity = tuple(
        DayActivity(
            TODAY - timedelta(days=n),
            rng.randint(5, 90),
            rng.randint(1, 6),
            int(rng.random() < 0.1),
            int(rng.random() < 0.2),
        )
        for n in range(days, -1, -1)
        if rng.random() < 0.8
    )
    sections = tuple(
        SectionStat(f"E.{n}", f"Section {n}", rng.randint(0, 30), 30, rng.random())
        for n in range(1, 14)
    )
    return MemberStats(
        member_id=member_id,
        name=f"member {member_id}",
        cohort_id=1,
        cohort_name="Cohort one",
        timezone="Europe/Berlin",
        today=TODAY,
        points=sum(d.points for d in activity),
        rank=12,
        members_ranked=1000,
        mocks=sum(d.mocks for d in activity),
        drills=sum(d.drills for d in activity),
        streak=StreakToday(current=9, longest=31, freezes=1, done_today=True, at_risk=False),
        days=activity,
        sections=sections,
    )


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile of values, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def timed(
    draw: Callable[[MemberStats], object], runs: int, *, distinct: bool
) -> tuple[list[float], list[float]]:
    """Time `runs` draws (wall, CPU), each of a different member's stats when `distinct`."""
    wall, cpu = [], []
    base = sample_stats(1)
    for n in range(runs):
        stats = sample_stats(n + 2, seed=n) if distinct else base
        t, c = time.perf_counter(), time.process_time()
        draw(stats)
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    charts.stats_png(sample_stats(1))  # the first draw loads fonts and builds caches
    charts.stats_svg(sample_stats(1))
    rows = (
        ("PNG, cache miss", timed(charts.stats_png, args.runs, distinct=True)),
        ("PNG, same data", timed(charts.stats_png, args.runs, distinct=False)),
        ("SVG, cache miss", timed(charts.stats_svg, args.runs, distinct=True)),
        ("SVG, same data", timed(charts.stats_svg, args.runs, distinct=False)),
    )
    for name, (wall, cpu) in rows:
        print(
            f"  {name:<16} p50 {pct(wall, 0.5):7.1f} ms   p95 {pct(wall, 0.95):7.1f} ms   "
            f"(CPU p50 {pct(cpu, 0.5):6.1f} ms)"
        )
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for n in range(10):
            charts.stats_png(replace(sample_stats(1), member_id=1000 + n))
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(charts.stats_png(sample_stats(1)))
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
