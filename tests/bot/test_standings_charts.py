"""Stats charts render headless to a PNG of the expected size (and SVG); each face shows them."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.streaks import StreakToday
from bot.messages import Channel
from bot.platforms.console import render_text
from bot.platforms.discord_render import render_message as discord_render
from bot.platforms.slack_app import SlackPublisher
from bot.services import charts
from bot.services.charts import calendar_grid, stats_png, stats_svg
from bot.services.standings import DayActivity, MemberStats, SectionStat
from bot.standings_commands import render_stats
from tests.support.slack_api_server import MockSlackApi

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TODAY = date(2026, 12, 9)


def sample_stats() -> MemberStats:
    days = tuple(
        DayActivity(
            TODAY - timedelta(days=n), points=10 + n, answers=1, mocks=n % 2, drills=n % 3 == 0
        )
        for n in range(0, 40, 2)
    )
    sections = tuple(
        SectionStat(
            f"E.{n}", f"Section {n}", answered=n, total=40, average=None if n == 13 else n / 13
        )
        for n in range(1, 14)
    )
    return MemberStats(
        member_id=1,
        name="Ada L.",
        cohort_id=1,
        cohort_name="Cohort",
        timezone="Europe/Berlin",
        today=TODAY,
        points=sum(d.points for d in days),
        rank=2,
        members_ranked=9,
        mocks=10,
        drills=7,
        streak=StreakToday(current=1, longest=4, freezes=0, done_today=True, at_risk=False),
        days=days,
        sections=sections,
    )


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_stats_chart_is_a_valid_png_of_the_expected_size_and_an_svg() -> None:
    png = stats_png(sample_stats())
    assert png_size(png) == (1000, 650)
    assert png.endswith(b"IEND\xaeB`\x82")
    svg = stats_svg(sample_stats())
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "Ada L." in svg


def test_charts_draw_without_a_display_in_a_fresh_process(tmp_path: Path) -> None:
    out = tmp_path / "chart.png"
    code = (
        "import sys; from tests.bot.test_standings_charts import sample_stats;"
        "from bot.services.charts import stats_png;"
        f"open({str(out)!r}, 'wb').write(stats_png(sample_stats()));"
        "import matplotlib; print(matplotlib.get_backend())"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert png_size(out.read_bytes()) == (1000, 650)


def test_the_streak_calendar_puts_today_in_the_last_column() -> None:
    grid = calendar_grid(
        [TODAY, TODAY - timedelta(days=7), TODAY - timedelta(days=200)], TODAY, weeks=4
    )
    assert len(grid) == 7 and all(len(row) == 4 for row in grid)
    wednesday = TODAY.weekday()
    assert grid[wednesday] == [0, 0, 1, 1] and sum(map(sum, grid)) == 2


def test_console_saves_the_picture_and_prints_its_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.platforms.console as console

    monkeypatch.setattr(console, "IMAGE_DIR", tmp_path)
    stats = sample_stats()
    text = render_text(render_stats(stats, stats_png(stats)))
    (saved,) = tmp_path.iterdir()
    assert f"[image saved: {saved}]" in text and "Ada L.: " in text
    assert png_size(saved.read_bytes()) == (1000, 650)


def test_discord_attaches_the_png_as_a_file_shown_in_the_embed() -> None:
    stats = sample_stats()
    png = stats_png(stats)
    (part,) = discord_render(render_stats(stats, png))
    upload = part.file()
    assert upload is not None and upload.filename.endswith(".png")
    assert upload.fp.read() == png
    assert part.embeds[0].image.url == f"attachment://{upload.filename}"


@pytest_asyncio.fixture
async def api() -> AsyncIterator[MockSlackApi]:
    async with MockSlackApi() as server:
        yield server


async def test_slack_uploads_the_png_with_files_upload_v2(api: MockSlackApi) -> None:
    client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
    publisher = SlackPublisher(client, channel_interval_s=0)
    stats = sample_stats()
    png = stats_png(stats)
    try:
        await publisher.post(
            Channel("slack", "T0TEAM001", "C0STUDY01"),
            render_stats(stats, png),
            idempotency_key="k",
        )
    finally:
        await publisher.aclose()
    (upload,) = api.files.values()
    assert upload["data"] == png and upload["channel"] == "C0STUDY01"
    assert upload["filename"].endswith(".png") and "Ada L." in (upload["alt_txt"] or "")
    assert api.calls_to("files.completeUploadExternal")


def other_stats() -> MemberStats:
    """A different member with less history and another section list."""
    stats = sample_stats()
    return replace(
        stats,
        member_id=2,
        name="Grace H.",
        days=stats.days[:3],
        sections=stats.sections[:5],
        streak=StreakToday(current=0, longest=9, freezes=2, done_today=False, at_risk=False),
    )


def test_a_chart_drawn_after_another_members_shows_only_its_own_data() -> None:
    charts.drawn_stats.clear()
    first, second = sample_stats(), other_stats()
    stats_png(first)
    stats_svg(first)
    reused_png, reused_svg = stats_png(second), stats_svg(second)
    assert reused_png == charts.figure_png(charts.stats_figure(second))
    assert reused_svg == charts.figure_svg(charts.stats_figure(second))
    assert "Ada L." not in reused_svg and "Grace H." in reused_svg
    empty = replace(second, days=(), points=0)
    assert stats_png(empty) == charts.figure_png(charts.stats_figure(empty))
    # Drawn by several threads at once, each chart is still its own member's alone.
    many = [replace(first, member_id=n, name=f"M{n}", days=first.days[n:]) for n in range(8)]
    with ThreadPoolExecutor(4) as pool:
        drawn = list(pool.map(stats_png, many))
    assert drawn == [charts.figure_png(charts.stats_figure(s)) for s in many]


def test_the_same_data_is_drawn_once_and_new_data_draws_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    charts.drawn_stats.clear()
    drawn: list[str] = []
    figure_png = charts.figure_png
    monkeypatch.setattr(charts, "figure_png", lambda fig: drawn.append("png") or figure_png(fig))
    stats = sample_stats()
    first = stats_png(stats)
    assert stats_png(replace(stats)) == first and drawn == ["png"]
    later = replace(stats, points=stats.points + 6, today=TODAY + timedelta(days=1))
    assert stats_png(later) != first and drawn == ["png", "png"]


def test_svg_text_is_measured_as_matplotlib_measures_it_and_kept_per_font() -> None:
    import io

    from matplotlib.backends.backend_svg import RendererSVG
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextToPath

    renderer = RendererSVG(100, 100, io.StringIO())
    prop = FontProperties(size=9)
    own = TextToPath()
    for text in ("E.13", "02 Dec", "Points over time (886 in all)"):
        kept = renderer.get_text_width_height_descent(text, prop, False)
        assert kept == pytest.approx(own.get_text_width_height_descent(text, prop, False))
    narrow = renderer.get_text_width_height_descent("02 Dec", prop, False)
    prop.set_size(18)  # the same object, changed: measured again, not served the old size
    assert renderer.get_text_width_height_descent("02 Dec", prop, False)[0] > 1.9 * narrow[0]
