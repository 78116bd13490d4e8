"""Charts of standings, drawn headless with matplotlib's Agg canvas: PNG for chat, SVG for the web.

Each chart is one `Figure` built from a service dataclass (`MemberStats`, `Recap`); `*_png`
and `*_svg` render the same figure. No pyplot: figures are plain objects, so drawing needs no
display and is safe from several threads.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from bot.services.recap import Recap
    from bot.services.standings import MemberStats

STATS_SIZE_IN = (12.0, 8.0)
DPI = 100  # so a stats chart is 1200 x 800 pixels
CALENDAR_WEEKS = 12
_ACCENT = "#3b6ea8"
_SECOND = "#e07b39"


def stats_figure(stats: MemberStats) -> Figure:
    """Return the four-panel figure of a member's stats."""
    # Fixed margins: a constrained layout measures every label first and doubles the draw time.
    fig = Figure(figsize=STATS_SIZE_IN, dpi=DPI)
    fig.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.1, hspace=0.5, wspace=0.18)
    fig.suptitle(f"{stats.name} — {stats.cohort_name}", fontsize=14)
    (points_ax, sections_ax), (calendar_ax, work_ax) = fig.subplots(2, 2)
    _points_over_time(points_ax, stats)
    _sections(sections_ax, stats)
    _calendar(calendar_ax, stats)
    _mocks_and_drills(work_ax, stats)
    return fig


def stats_png(stats: MemberStats) -> bytes:
    """Return a member's stats chart as PNG bytes."""
    return figure_png(stats_figure(stats))


def stats_svg(stats: MemberStats) -> str:
    """Return a member's stats chart as SVG text (the same figure as the PNG)."""
    return figure_svg(stats_figure(stats))


def recap_figure(recap: Recap) -> Figure:
    """Return the weekly recap's chart: the week's top members and the cohort's daily points."""
    fig = Figure(figsize=(10.0, 5.0), dpi=DPI)
    fig.subplots_adjust(left=0.12, right=0.98, top=0.86, bottom=0.1, wspace=0.3)
    fig.suptitle(f"{recap.cohort_name}: week of {recap.week_start:%d %b %Y}", fontsize=13)
    top_ax, days_ax = fig.subplots(1, 2)
    names = [r.name for r in recap.top][::-1]
    top_ax.barh(names or ["—"], [r.value for r in recap.top][::-1] or [0], color=_ACCENT)
    top_ax.set_title("Top members (points)")
    labels = [f"{d:%a}" for d, _ in recap.daily_points]
    days_ax.bar(labels, [p for _, p in recap.daily_points], color=_SECOND)
    days_ax.set_title("Cohort points per day")
    return fig


def recap_png(recap: Recap) -> bytes:
    """Return the weekly recap's chart as PNG bytes."""
    return figure_png(recap_figure(recap))


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes on the Agg canvas."""
    buffer = io.BytesIO()
    # Fast zlib: the default level spends more time compressing than drawing the chart.
    FigureCanvasAgg(fig).print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def figure_svg(fig: Figure) -> str:
    """Render a figure to SVG text."""
    buffer = io.StringIO()
    FigureCanvasSVG(fig).print_svg(buffer)
    return buffer.getvalue()


def _points_over_time(ax: Axes, stats: MemberStats) -> None:
    ordered = sorted(stats.days, key=lambda d: d.day)
    days = [d.day for d in ordered]
    total = list(accumulate(d.points for d in ordered))
    if days:
        ax.step(days, total, where="post", color=_ACCENT)
        ax.fill_between(days, total, step="post", alpha=0.2, color=_ACCENT)
        # A handful of fixed date ticks: the automatic date locator costs more than the plot.
        picks = sorted({days[round(i * (len(days) - 1) / 4)] for i in range(5)})
        ax.set_xticks(picks, [f"{d:%d %b}" for d in picks])
    ax.set_title(f"Points over time ({stats.points} in all)")


def _sections(ax: Axes, stats: MemberStats) -> None:
    codes = [s.code for s in stats.sections]
    coverage = [s.coverage * 100 for s in stats.sections]
    averages = [(s.average or 0.0) * 100 for s in stats.sections]
    xs = range(len(codes))
    ax.bar([x - 0.2 for x in xs], coverage, width=0.4, color=_ACCENT)
    ax.bar([x + 0.2 for x in xs], averages, width=0.4, color=_SECOND)
    ax.set_xticks(list(xs), codes, rotation=45)
    ax.set_ylim(0, 100)
    # The key is in the title: a legend box costs as much to draw as the bars.
    ax.set_title("E.1–E.13: coverage % (blue), avg best score % (orange)")


def calendar_grid(
    active: Sequence[date], today: date, weeks: int = CALENDAR_WEEKS
) -> list[list[int]]:
    """Return a weekday x week grid of 1 (active) / 0, the last column being today's week."""
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    seen = set(active)
    return [
        [int(monday + timedelta(weeks=w, days=d) in seen) for w in range(weeks)] for d in range(7)
    ]


def _calendar(ax: Axes, stats: MemberStats) -> None:
    grid = calendar_grid([d.day for d in stats.days], stats.today)
    ax.imshow(grid, cmap="Greens", vmin=0, vmax=1.4, aspect="auto")
    ax.set_yticks(range(7), ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
    ax.set_xticks([])
    streak = stats.streak
    ax.set_title(f"Streak {streak.current} (longest {streak.longest}, {streak.freezes} freeze(s))")


def _mocks_and_drills(ax: Axes, stats: MemberStats) -> None:
    weeks: dict[date, list[int]] = {}
    for d in stats.days:
        week = d.day - timedelta(days=d.day.weekday())
        counts = weeks.setdefault(week, [0, 0])
        counts[0] += d.mocks
        counts[1] += d.drills
    labels = [f"{w:%d %b}" for w in sorted(weeks)][-12:]
    values = [weeks[w] for w in sorted(weeks)][-12:]
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], [v[0] for v in values], width=0.4, label="mocks", color=_ACCENT)
    ax.bar(
        [x + 0.2 for x in xs],
        [v[1] for v in values],
        width=0.4,
        label="drills passed",
        color=_SECOND,
    )
    ax.set_xticks(list(xs), labels, rotation=30)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Per week: mocks ({stats.mocks}, blue), drills passed ({stats.drills}, orange)")
