"""Charts of standings, drawn headless with matplotlib's Agg canvas: PNG for chat, SVG for the web.

Each chart is one `Figure` built from a service dataclass (`MemberStats`, `Recap`); `*_png`
and `*_svg` render the same figure. No pyplot: figures are plain objects, so drawing needs no
display and is safe from several threads.

A stats chart is the costly one (`/stats`, the dashboard's member page), so it is cheap twice
over. A few prepared figures per format are kept (axes, ticks and fixed labels built once) and
a drawing only sets a member's data into one; and the rendered bytes are kept by the data they
show, so a repeated `/stats` with nothing new draws nothing.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import replace
from datetime import date, timedelta
from itertools import accumulate
from typing import TYPE_CHECKING, Any, TypeVar

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.backends.backend_svg import FigureCanvasSVG, RendererSVG
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch, Polygon
from matplotlib.path import Path
from matplotlib.textpath import TextToPath
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:
    from bot.services.recap import Recap
    from bot.services.standings import MemberStats

STATS_SIZE_IN = (10.0, 6.5)
DPI = 100  # so a stats chart is 1000 x 650 pixels: fewer pixels to fill and to compress
TITLE_PT = 11
LABEL_PT = 9
CALENDAR_WEEKS = 12
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
DRAWN_CHARTS_KEPT = 128  # per format; a PNG is ~50 kB
PREPARED_KEPT = 2  # prepared figures kept per format (a PNG one holds a 2.6 MB pixel buffer)
_ACCENT = "#3b6ea8"
_SECOND = "#e07b39"
_CALENDAR_ACTIVE = "#2a8f4b"  # a day with activity; an idle one is the axes' pale ground
_CALENDAR_IDLE = "#f3f8f1"

# Set once per process. SVG text as <text> elements, drawn by the browser's fonts: outlining
# every glyph as a path is most of an SVG chart's cost and size.
matplotlib.rcParams["svg.fonttype"] = "none"
# Ids of clip paths and markers hashed from their content alone, not a random salt: the same
# figure gives the same SVG text.
matplotlib.rcParams["svg.hashsalt"] = "studybot-charts"

T = TypeVar("T", bytes, str)

_TEXT_PATHS = TextToPath()


@functools.lru_cache(maxsize=4096)
def _svg_text_extent(text: str, prop: FontProperties, ismath: bool | str) -> tuple[float, ...]:
    return tuple(_TEXT_PATHS.get_text_width_height_descent(text, prop, ismath))


def _measured_once(
    _renderer: RendererSVG, text: str, prop: FontProperties, ismath: bool | str
) -> tuple[float, ...]:
    # A copy: the key must not change with the caller's properties (they are mutable).
    return _svg_text_extent(text, prop.copy(), ismath)


# Text measured once per process, not once per drawing. An SVG canvas measures text without
# its renderer (the width of a string in a font at a size, at 72 dpi), but matplotlib keeps
# what it measured per renderer, and every SVG drawing makes a new renderer: a stats chart
# measured its fifty-odd labels afresh each time, a fifth of its cost. Same results, kept.
RendererSVG.get_text_width_height_descent = _measured_once  # type: ignore[assignment,method-assign]


class _StatsChart:
    """A four-panel stats figure, built once, into which one member's data at a time is set.

    Building the axes and their ticks costs more than drawing them; so does the title's
    automatic placement (it measures the tick labels), hence the titles' fixed height.
    """

    def __init__(self) -> None:
        # Fixed margins: a constrained layout measures every label first and doubles the time.
        fig = Figure(figsize=STATS_SIZE_IN, dpi=DPI)
        fig.subplots_adjust(left=0.07, right=0.98, top=0.88, bottom=0.07, hspace=0.38, wspace=0.2)
        self.fig = fig
        self.heading = fig.suptitle("", fontsize=13)
        (self.points_ax, self.sections_ax), (self.calendar_ax, self.work_ax) = fig.subplots(2, 2)
        for ax in fig.axes:
            # Labels without tick marks: a mark per tick was a tenth of a drawing's cost, and
            # the labels sit against the axes' edges as clearly without them.
            ax.tick_params(labelsize=LABEL_PT, bottom=False, left=False)
            # Axis labels placed by hand: placed automatically, they measure every tick label
            # on each draw, and these axes have no labels to place.
            ax.xaxis.set_label_coords(0.5, -0.1)
            ax.yaxis.set_label_coords(-0.1, 0.5)

        ax = self.points_ax
        (self.points_line,) = ax.plot([], [], drawstyle="steps-post", color=_ACCENT)
        self.points_fill = Polygon(
            [(0.0, 0.0)], closed=True, alpha=0.2, facecolor=_ACCENT, edgecolor="none"
        )
        ax.add_patch(self.points_fill)
        self.points_title = ax.set_title("", y=1.0, fontsize=TITLE_PT)

        self.section_codes: tuple[str, ...] = ()
        # Bars as one shape per series, not a patch per bar: each patch is an artist and a
        # path of its own to draw, and fifty of them were a fifth of a drawing's cost.
        self.coverage_bars = _bar_series(self.sections_ax, _ACCENT)
        self.average_bars = _bar_series(self.sections_ax, _SECOND)
        self.sections_ax.set_ylim(0, 100)
        # The key is in the title: a legend box costs as much to draw as the bars.
        self.sections_ax.set_title(
            "Coverage % (blue), avg best score % (orange)", y=1.0, fontsize=TITLE_PT
        )

        ax = self.calendar_ax
        # The active days as squares over a pale ground, drawn as shapes: an image would be
        # resampled and encoded as a PNG inside the SVG on every drawing.
        ax.set_facecolor(_CALENDAR_IDLE)
        # A thin line of the ground between squares keeps neighbouring days apart.
        self.calendar = _shapes(
            ax, facecolor=_CALENDAR_ACTIVE, edgecolor=_CALENDAR_IDLE, linewidth=1.0
        )
        ax.set_xlim(-0.5, CALENDAR_WEEKS - 0.5)
        ax.set_ylim(6.5, -0.5)  # Monday on top
        ax.set_yticks(range(7), WEEKDAYS)
        ax.set_xticks([])
        self.calendar_title = ax.set_title("", y=1.0, fontsize=TITLE_PT)

        ax = self.work_ax
        self.mock_bars = _bar_series(ax, _ACCENT)
        self.drill_bars = _bar_series(ax, _SECOND)
        ax.set_xlim(-0.6, CALENDAR_WEEKS - 0.4)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        self.work_title = ax.set_title("", y=1.0, fontsize=TITLE_PT)

    def show(self, stats: MemberStats) -> Figure:
        """Set a member's stats into the figure and return it."""
        self.heading.set_text(f"{stats.name} — {stats.cohort_name}")
        self._points_over_time(stats)
        self._sections(stats)
        self._calendar(stats)
        self._mocks_and_drills(stats)
        return self.fig

    def _points_over_time(self, stats: MemberStats) -> None:
        ax = self.points_ax
        self.points_title.set_text(f"Points over time ({stats.points} in all)")
        ordered = sorted(stats.days, key=lambda d: d.day)
        if not ordered:
            self.points_line.set_data([], [])
            self.points_fill.set_visible(False)
            end = float(date2num(stats.today))  # type: ignore[no-untyped-call]
            ax.set_xlim(end - 28, end)
            ax.set_ylim(0, 1)
            ax.set_xticks([])
            return
        days = [d.day for d in ordered]
        xs = [float(x) for x in date2num(days)]  # type: ignore[no-untyped-call]
        total = list(accumulate(d.points for d in ordered))
        # Each total holds from its day until the next one's, the last until today ends.
        end = max(xs[-1], float(date2num(stats.today))) + 1  # type: ignore[no-untyped-call]
        self.points_line.set_data([*xs, end], [*total, total[-1]])
        outline = [
            (x, y) for x, nxt, y in zip(xs, [*xs[1:], end], total, strict=True) for x in (x, nxt)
        ]
        self.points_fill.set_xy([*outline, (end, 0.0), (xs[0], 0.0)])
        self.points_fill.set_visible(True)
        pad = max(0.5, (end - xs[0]) * 0.01)
        ax.set_xlim(xs[0] - pad, end + pad)
        ax.set_ylim(0, max(total[-1], 1) * 1.05)
        # A handful of fixed date ticks: the automatic date locator costs more than the plot.
        picks = sorted({round(i * (len(days) - 1) / 4) for i in range(5)})
        ax.set_xticks([xs[i] for i in picks], [f"{days[i]:%d %b}" for i in picks])

    def _sections(self, stats: MemberStats) -> None:
        ax = self.sections_ax
        codes = tuple(s.code for s in stats.sections)
        if codes != self.section_codes:
            ax.set_xticks(range(len(codes)), codes, fontsize=LABEL_PT - 1)
            ax.set_xlim(-0.6, len(codes) - 0.4)
            self.section_codes = codes
        _set_shapes(self.coverage_bars, _bars([s.coverage * 100 for s in stats.sections], -0.2))
        _set_shapes(
            self.average_bars, _bars([(s.average or 0.0) * 100 for s in stats.sections], 0.2)
        )

    def _calendar(self, stats: MemberStats) -> None:
        grid = calendar_grid([d.day for d in stats.days], stats.today)
        _set_shapes(
            self.calendar,
            [
                [(w - 0.5, d - 0.5), (w + 0.5, d - 0.5), (w + 0.5, d + 0.5), (w - 0.5, d + 0.5)]
                for d, row in enumerate(grid)
                for w, active in enumerate(row)
                if active
            ],
        )
        streak = stats.streak
        self.calendar_title.set_text(
            f"Streak {streak.current} (longest {streak.longest}, {streak.freezes} freeze(s)),"
            f" last {CALENDAR_WEEKS} weeks"
        )

    def _mocks_and_drills(self, stats: MemberStats) -> None:
        ax = self.work_ax
        weeks = recent_weeks(stats.today)
        counts = {week: [0, 0] for week in weeks}
        for d in stats.days:
            tally = counts.get(d.day - timedelta(days=d.day.weekday()))
            if tally is not None:  # within the weeks shown
                tally[0] += d.mocks
                tally[1] += int(d.drills)
        _set_shapes(self.mock_bars, _bars([counts[week][0] for week in weeks], -0.2))
        _set_shapes(self.drill_bars, _bars([counts[week][1] for week in weeks], 0.2))
        top = max((max(c) for c in counts.values()), default=0)
        ax.set_ylim(0, max(top, 1) * 1.15)
        # Every other week named: half the labels to draw, and none of them need turning.
        labelled = range(CALENDAR_WEEKS - 1, -1, -2)
        ax.set_xticks(list(labelled), [f"{weeks[i]:%d %b}" for i in labelled])
        self.work_title.set_text(
            f"Per week: mocks ({stats.mocks}, blue), drills passed ({stats.drills}, orange)"
        )


def _bar_series(ax: Any, color: str) -> PathPatch:
    """Add an empty series of bars to an axes; `_set_shapes` gives it its bars."""
    return _shapes(ax, facecolor=color, edgecolor="none")


def _shapes(ax: Any, **style: Any) -> PathPatch:
    """Add an empty shape of many parts to an axes, in its data's coordinates."""
    shape = PathPatch(Path(np.zeros((1, 2))), visible=False, **style)
    ax.add_artist(shape)  # not add_patch: the axes' limits are set by hand, not by the data
    return shape


def _set_shapes(shape: PathPatch, outlines: Sequence[Sequence[tuple[float, float]]]) -> None:
    """Give a shape these closed outlines as its parts: one path drawn, however many parts."""
    shape.set_visible(bool(outlines))
    if outlines:
        shape.set_path(Path.make_compound_path_from_polys(np.asarray(outlines, dtype=float)))


def _bars(
    heights: Sequence[float], shift: float, width: float = 0.4
) -> list[list[tuple[float, float]]]:
    """Return the outlines of bars of these heights at 0, 1, 2, ... moved by `shift`."""
    return [
        [(left, 0.0), (left, h), (left + width, h), (left + width, 0.0)]
        for left, h in ((x + shift - width / 2, h) for x, h in enumerate(heights))
    ]


class _DrawnCharts:
    """Rendered charts by the data they show, the least recently used forgotten first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._drawn: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_draw(self, key: Hashable, draw: Callable[[], T]) -> T:
        """Return the chart drawn for `key`, drawing it (outside the lock) the first time."""
        with self._lock:
            if key in self._drawn:
                self._drawn.move_to_end(key)
                return self._drawn[key]  # type: ignore[no-any-return]
        drawn = draw()
        with self._lock:
            self._drawn[key] = drawn
            while len(self._drawn) > self._size:
                self._drawn.popitem(last=False)
        return drawn

    def clear(self) -> None:
        """Forget every drawn chart."""
        with self._lock:
            self._drawn.clear()


class _PreparedCharts:
    """Prepared stats figures lent to one drawing at a time, a few of them kept for the next.

    A figure is never drawn by two threads at once; it may be drawn by any thread in turn.
    A drawing that fails does not give its figure back (it may be half set).
    """

    def __init__(self, keep: int) -> None:
        self._keep = keep
        self._free: list[_StatsChart] = []
        self._lock = threading.Lock()

    def render(self, stats: MemberStats, render: Callable[[Figure], T]) -> T:
        """Return `render` of a prepared figure showing `stats`."""
        with self._lock:
            chart = self._free.pop() if self._free else None
        chart = chart or _StatsChart()
        drawn = render(chart.show(stats))
        with self._lock:
            if len(self._free) < self._keep:
                self._free.append(chart)
        return drawn


# Per format: text is measured per dpi, and the SVG canvas draws at 72.
_prepared_png = _PreparedCharts(PREPARED_KEPT)
_prepared_svg = _PreparedCharts(PREPARED_KEPT)
drawn_stats = _DrawnCharts(DRAWN_CHARTS_KEPT)


def shown_stats(stats: MemberStats) -> MemberStats:
    """Return the stats as the figure shows them: without the rank, which it does not draw.

    A chart kept under these is drawn again only when its own member's figures change, not
    whenever anyone in the cohort earns a point and the ranks move.
    """
    return replace(stats, rank=None, members_ranked=0)


def stats_figure(stats: MemberStats) -> Figure:
    """Return the four-panel figure of a member's stats (a new figure, the caller's own)."""
    return _StatsChart().show(stats)


def stats_png(stats: MemberStats) -> bytes:
    """Return a member's stats chart as PNG bytes (drawn once per distinct `stats`)."""
    shown = shown_stats(stats)
    return drawn_stats.get_or_draw(("png", shown), lambda: _prepared_png.render(shown, figure_png))


def stats_svg(stats: MemberStats) -> str:
    """Return a member's stats chart as SVG text (the same figure as the PNG)."""
    shown = shown_stats(stats)
    return drawn_stats.get_or_draw(("svg", shown), lambda: _prepared_svg.render(shown, figure_svg))


def prepare_drawing_process(niceness: int = 2) -> None:
    """Ready a process that draws charts for pages: lower its priority, then draw once.

    Pages are served by another process, and a chart is the slow part of one: at a lower
    priority a burst of drawing takes less of the CPU the pages need. Only a little lower (2):
    a chart asked while twenty clients keep two cores busy took 265-316 ms at p95 at nice 5,
    240-284 ms at 2, and the pages' p95 stayed under 100 ms at both. The sample drawing loads
    the fonts and fills matplotlib's caches, so no member's chart pays for them.
    """
    with contextlib.suppress(OSError, AttributeError):  # not everywhere (Windows)
        os.nice(niceness)
    from bot.domain.streaks import StreakToday
    from bot.services.standings import DayActivity, MemberStats, SectionStat
    from content import load_library

    today = date.today()
    sample = MemberStats(
        member_id=0,
        name="sample",
        cohort_id=0,
        cohort_name="sample",
        timezone="UTC",
        today=today,
        points=1,
        rank=None,
        members_ranked=0,
        mocks=0,
        drills=0,
        streak=StreakToday(1, 1, 0, done_today=True, at_risk=False),
        days=(DayActivity(today, 1, 1, 0, 0),),
        sections=tuple(SectionStat(s.code, s.title, 0, 1, None) for s in load_library().sections),
    )
    _prepared_svg.render(sample, figure_svg)  # drawn, not kept: no member shows it


def recent_weeks(today: date, weeks: int = CALENDAR_WEEKS) -> list[date]:
    """Return the Mondays of the last `weeks` weeks, oldest first, the last being today's."""
    monday = today - timedelta(days=today.weekday())
    return [monday - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


def recap_figure(recap: Recap) -> Figure:
    """Return the weekly recap's chart: the week's top members and the cohort's daily points."""
    fig = Figure(figsize=(10.0, 5.0), dpi=DPI)
    fig.subplots_adjust(left=0.17, right=0.98, top=0.86, bottom=0.1, wspace=0.25)
    fig.suptitle(f"{recap.cohort_name}: week of {recap.week_start:%d %b %Y}", fontsize=13)
    top_ax, days_ax = fig.subplots(1, 2)
    for ax in (top_ax, days_ax):  # no automatic placing, as in the stats chart
        ax.xaxis.set_label_coords(0.5, -0.1)
        ax.yaxis.set_label_coords(-0.1, 0.5)
    # Names cut to fit the margin (a long one would run off the picture's left edge), and bars
    # placed by rank, not by name: two members may share a name.
    names = [r.name if len(r.name) <= 16 else r.name[:15] + "…" for r in recap.top][::-1]
    values = [r.value for r in recap.top][::-1]
    top_ax.barh(range(len(values) or 1), values or [0], color=_ACCENT)
    top_ax.set_yticks(range(len(names) or 1), names or ["—"])
    top_ax.set_title("Top members (points)", y=1.0)
    labels = [f"{d:%a}" for d, _ in recap.daily_points]
    days_ax.bar(labels, [p for _, p in recap.daily_points], color=_SECOND)
    days_ax.set_title("Cohort points per day", y=1.0)
    return fig


def recap_png(recap: Recap) -> bytes:
    """Return the weekly recap's chart as PNG bytes."""
    return figure_png(recap_figure(recap))


def figure_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes on the Agg canvas."""
    buffer = io.BytesIO()
    # The figure's own Agg canvas when it has one: it keeps its renderer (a pixel buffer).
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    # Fast zlib: the default level spends more time compressing than drawing the chart.
    canvas.print_png(buffer, pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def figure_svg(fig: Figure) -> str:
    """Render a figure to SVG text."""
    buffer = io.StringIO()
    dpi = fig.dpi
    try:
        # No date stamped in: the same figure gives the same text.
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None})
    finally:
        fig.dpi = dpi  # the SVG canvas sets 72 and leaves it so; a figure drawn again needs its own
    return buffer.getvalue()


def calendar_grid(
    active: Sequence[date], today: date, weeks: int = CALENDAR_WEEKS
) -> list[list[int]]:
    """Return a weekday x week grid of 1 (active) / 0, the last column being today's week."""
    monday = today - timedelta(days=today.weekday()) - timedelta(weeks=weeks - 1)
    seen = set(active)
    return [
        [int(monday + timedelta(weeks=w, days=d) in seen) for w in range(weeks)] for d in range(7)
    ]
