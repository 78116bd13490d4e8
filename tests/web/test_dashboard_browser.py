"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

The server is the real uvicorn app on a local port over PostgreSQL, in this test's event loop.
Screenshots of the main pages go to build/screenshots (or STUDYBOT_SCREENSHOTS), as artefacts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.app import StudyBot
from bot.commands import dispatch
from tests.conftest import REQUIRE_SERVICES
from tests.web.seed import Seeded, actor

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("STUDYBOT_SCREENSHOTS", ROOT / "build" / "screenshots"))

pytestmark = pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _chromium_or_skip() -> None:
    if shutil.which(CHROMIUM) and _has_playwright():
        return
    reason = f"Chromium ({CHROMIUM}) or the playwright package is not installed"
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason}; `make install` installs it", pytrace=False)
    pytest.skip(reason)


def _has_playwright() -> bool:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def server(web_bot: StudyBot, seeded: Seeded) -> AsyncIterator[str]:
    """Serve the dashboard on a free local port; links point at it."""
    _chromium_or_skip()
    from bot.platforms.web import serve_dashboard

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    web_bot.dashboard.base_url = base
    task = asyncio.create_task(serve_dashboard(web_bot, host="127.0.0.1", port=port))
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.05)
    yield base
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
def shots() -> Path:
    """The folder the screenshots go to (build/screenshots unless STUDYBOT_SCREENSHOTS)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium from the system, never a downloaded build."""
    _chromium_or_skip()
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


async def dashboard_link(bot: StudyBot, user: str) -> str:
    reply = await dispatch(bot, actor(user), "dashboard", {})
    text = reply.messages[0].text or ""
    return next(word for word in text.split() if word.startswith("http"))


def watch_requests(page: Any, base: str) -> list[str]:
    """Record every request the page makes that does not go to the dashboard's own address."""
    stray: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(base + "/") else stray.append(r.url))
    return stray


async def test_a_member_follows_their_link_and_reads_the_dashboard(
    web_bot: StudyBot, seeded: Seeded, server: str, browser: Any, shots: Path
) -> None:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    stray = watch_requests(page, server)

    await page.goto(await dashboard_link(web_bot, "carol"))
    await page.get_by_role("button", name="Open the dashboard").click()
    await page.wait_for_url(f"{server}/c/{seeded.cohort}/")
    assert await page.get_by_role("heading", level=1).inner_text() == "#study"
    assert await page.locator("main").count() == 1 and await page.locator("nav").count() >= 1
    chart = page.locator("img.chart")
    assert "points per day" in (await chart.get_attribute("alt") or "")
    assert await chart.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.screenshot(path=str(shots / "overview.png"), full_page=True)

    await page.get_by_role("link", name="Leaderboard").click()
    await page.get_by_role("link", name="All time").click()
    own = page.locator("tr.own")
    assert await own.count() == 1
    assert "Carol" in await own.inner_text() and "(you)" in await own.inner_text()
    background = await own.locator("td").first.evaluate(
        "td => getComputedStyle(td).backgroundColor"
    )
    plain = await page.locator("tbody tr:not(.own) td").first.evaluate(
        "td => getComputedStyle(td).backgroundColor"
    )
    assert background != plain  # the own row is marked visibly, not only in the markup
    await page.screenshot(path=str(shots / "leaderboard.png"), full_page=True)

    await page.get_by_role("link", name="Bob").click()
    await page.wait_for_url(f"{server}/c/{seeded.cohort}/members/{seeded.bob}")
    assert await page.get_by_role("heading", name="Section coverage").count() == 1
    assert "keeps answers private" in await page.locator("main").inner_text()
    member_chart = page.locator("img.chart")
    src = await member_chart.get_attribute("src")
    assert await member_chart.evaluate("img => img.complete && img.naturalWidth > 0")
    await page.screenshot(path=str(shots / "member.png"), full_page=True)

    svg = await page.goto(f"{server}{src}")
    assert svg is not None and svg.status == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    await page.screenshot(path=str(shots / "member-chart.png"))

    await page.goto(f"{server}/c/{seeded.cohort}/drills/softmax/cpu")
    await page.screenshot(path=str(shots / "drill-board.png"), full_page=True)
    await page.goto(f"{server}/c/{seeded.cohort}/questions")
    await page.get_by_role("link", name="E1-003").click()
    assert await page.get_by_role("heading", name="Rubric").count() == 1
    await page.screenshot(path=str(shots / "question.png"), full_page=True)

    # Another cohort's page, with this session: the same plain refusal.
    refused = await page.goto(f"{server}/c/{seeded.other_cohort}/")
    assert refused is not None and refused.status == 403
    assert "Dave" not in await page.content()
    await page.screenshot(path=str(shots / "other-cohort-403.png"))
    assert stray == []
    await context.close()


async def test_an_expired_link_and_a_phone_in_the_dark_get_clear_pages(
    web_bot: StudyBot, seeded: Seeded, server: str, browser: Any, shots: Path
) -> None:
    stale = await dashboard_link(web_bot, "bob")
    web_bot.clock.advance(seconds=web_bot.settings.web.link_ttl_s + 1)  # type: ignore[attr-defined]
    context = await browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
    )
    page = await context.new_page()
    stray = watch_requests(page, server)
    expired = await page.goto(stale)
    assert expired is not None and expired.status == 403
    assert "expired" in await page.locator("main").inner_text()
    assert await context.cookies() == []
    await page.screenshot(path=str(shots / "expired-link-403.png"))

    await page.goto(await dashboard_link(web_bot, "bob"))
    await page.get_by_role("button", name="Open the dashboard").click()
    await page.wait_for_url(f"{server}/c/{seeded.cohort}/")
    body = await page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert body == "rgb(11, 17, 32)"  # the dark scheme
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone
    await page.goto(f"{server}/c/{seeded.cohort}/members/{seeded.bob}")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await page.screenshot(path=str(shots / "member-phone-dark.png"), full_page=True)
    cookie = next(c for c in await context.cookies() if c["name"] == f"sb_{seeded.cohort}")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert stray == []
    await context.close()
