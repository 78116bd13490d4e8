"""Charts as SVG documents: drawn from a service's series, light and dark, no script.

The figures are small and regular, so they are written as SVG directly (no plotting library
loaded per request). Colours come from CSS custom properties with fallbacks, so the same file
follows the page's light or dark scheme when shown inline and stays legible when opened alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

WIDTH, HEIGHT = 640, 240
PAD_L, PAD_R, PAD_T, PAD_B = 48, 16, 28, 36

_STYLE = """
<style>
  svg { color-scheme: light dark; }
  .bg { fill: #ffffff; }
  .axis, .grid { stroke: #6b7280; stroke-width: 1; }
  .grid { stroke-opacity: .25; }
  .label { fill: #1f2937; font: 12px system-ui, sans-serif; }
  .title { fill: #111827; font: 600 14px system-ui, sans-serif; }
  .bar { fill: #2563eb; }
  .line { fill: none; stroke: #2563eb; stroke-width: 2; }
  .area { fill: #2563eb; fill-opacity: .12; }
  @media (prefers-color-scheme: dark) {
    .bg { fill: #111827; }
    .label { fill: #e5e7eb; }
    .title { fill: #f9fafb; }
    .bar { fill: #60a5fa; }
    .line { stroke: #60a5fa; }
    .area { fill: #60a5fa; }
  }
</style>
"""


def _nice_max(value: float) -> float:
    """Return a round number at or above `value` for the top of an axis."""
    if value <= 0:
        return 1.0
    step = 10 ** (len(str(int(value))) - 1)
    for factor in (1, 2, 2.5, 5, 10):
        if value <= factor * step:
            return float(factor * step)
    return float(10 * step)


def _frame(title: str, desc: str, body: list[str], top: float) -> str:
    plot_h = HEIGHT - PAD_T - PAD_B
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-labelledby="t d">',
        f'<title id="t">{escape(title)}</title><desc id="d">{escape(desc)}</desc>',
        _STYLE,
        f'<rect class="bg" x="0" y="0" width="{WIDTH}" height="{HEIGHT}"/>',
        f'<text class="title" x="{PAD_L}" y="18">{escape(title)}</text>',
    ]
    for i in range(5):
        value = top * i / 4
        y = PAD_T + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{PAD_L}" x2="{WIDTH - PAD_R}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="label" x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{value:g}</text>"
        )
    parts.extend(body)
    parts.append(
        f'<line class="axis" x1="{PAD_L}" x2="{WIDTH - PAD_R}" '
        f'y1="{PAD_T + plot_h}" y2="{PAD_T + plot_h}"/>'
    )
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart(title: str, series: Sequence[tuple[date, int]]) -> str:
    """Draw points per day as bars, one per day, labelled with the weekday."""
    top = _nice_max(max((v for _, v in series), default=0))
    plot_w = WIDTH - PAD_L - PAD_R
    plot_h = HEIGHT - PAD_T - PAD_B
    slot = plot_w / max(1, len(series))
    body = []
    for i, (day, value) in enumerate(series):
        h = plot_h * value / top
        x = PAD_L + i * slot + slot * 0.15
        y = PAD_T + plot_h - h
        body.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{h:.1f}"><title>{day:%a %d %b}: {value} points</title></rect>'
        )
        body.append(
            f'<text class="label" x="{x + slot * 0.35:.1f}" y="{HEIGHT - PAD_B + 16}" '
            f'text-anchor="middle">{day:%a %d}</text>'
        )
    desc = "; ".join(f"{day:%a %d %b}: {value}" for day, value in series) or "no points yet"
    return _frame(title, f"Points per day. {desc}.", body, top)
