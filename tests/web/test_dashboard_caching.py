"""What the dashboard keeps between requests: drawn once, rendered once, fresh after new data."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from bot.app import StudyBot
from bot.platforms.web.app import SvgCache
from bot.services.dashboard import WebSession
from bot.store.models import Answer, Member, Submission
from bot.store.points import award_points
from tests.web.seed import NOW, Seeded
from tests.web.test_dashboard_routes import earn, sign_in

postgres = pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def test_a_chart_missed_at_once_is_drawn_once_even_when_the_first_asker_leaves() -> None:
    cache = SvgCache()
    drawn = asyncio.Event()
    calls: list[tuple[Any, ...]] = []

    def render(key: tuple[Any, ...]) -> Any:
        async def draw() -> str:
            calls.append(key)
            await drawn.wait()
            return f"<svg>{key[1]}</svg>"

        return draw

    first = asyncio.create_task(cache.get(("week", 1), render(("week", 1))))
    others = [asyncio.create_task(cache.get(("week", 1), render(("week", 1)))) for _ in range(4)]
    await asyncio.sleep(0.01)
    first.cancel()  # the browser that asked first went away while the chart was being drawn
    drawn.set()
    assert await asyncio.gather(*others) == [b"<svg>1</svg>"] * 4
    assert calls == [("week", 1)] and cache.renders == 1
    assert await cache.get(("week", 1), render(("week", 1))) == b"<svg>1</svg>"
    assert len(calls) == 1  # served as drawn
    assert await cache.get(("week", 2), render(("week", 2))) == b"<svg>2</svg>"
    assert calls == [("week", 1), ("week", 2)]  # a new data version is drawn anew
    # A drawing that fails reaches everyone waiting on it, and is not kept.
    attempts = 0

    async def broken() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(0.01)
        raise RuntimeError("no figure")

    failed = await asyncio.gather(
        *(cache.get(("member", 1), broken) for _ in range(3)), return_exceptions=True
    )
    assert [type(r) for r in failed] == [RuntimeError] * 3 and attempts == 1
    assert await cache.get(("member", 1), render(("member", 1))) == b"<svg>1</svg>"  # again


@postgres
async def test_pages_are_rendered_once_per_data_change_and_show_what_changed(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    pages = client.app.state.rendered_pages
    member = f"/c/{seeded.cohort}/members/{seeded.bob}"
    board = f"/c/{seeded.cohort}/leaderboard?period=all"
    first = await client.get(member)
    first_board = await client.get(board)
    assert ">50</span>" in first.text and ">50</td>" in first_board.text
    rendered = pages.renders
    again = await client.get(member)
    again_board = await client.get(board)
    assert again.text == first.text and again_board.text == first_board.text
    assert pages.renders == rendered  # the same data, served as rendered

    await earn(web_bot, seeded.cohort, seeded.bob, ref="late", points=7)
    changed = await client.get(member)
    changed_board = await client.get(board)
    assert ">57</span>" in changed.text and ">57</td>" in changed_board.text
    assert pages.renders == rendered + 2
    # An answer waiting for its grade and a failed run add nothing to the ledger: the member
    # page still shows them at once (it is rendered again because its data changed).
    assert "Still thinking about it." not in changed.text
    async with web_bot.sessions() as session:  # an answer waiting for its grade, no points
        session.add(
            Answer(
                cohort_id=seeded.cohort,
                member_id=seeded.bob,
                question_id="E1-004",
                text="Still thinking about it.",
                source="command",
                status="pending",
                created_at=NOW,
            )
        )
        session.add(
            Submission(
                job_id="late-failure",
                cohort_id=seeded.cohort,
                member_id=seeded.bob,
                drill_id="softmax",
                source="code",
                status="done",
                verdict="failed",
                result={"message": "shape mismatch in the late run"},
                created_at=NOW,
            )
        )
        await session.commit()
    after = await client.get(member)
    assert "Still thinking about it." in after.text
    assert "shape mismatch in the late run" in after.text


@postgres
async def test_a_board_asked_by_many_at_once_is_ranked_once_even_when_the_first_asker_leaves(
    web_bot: StudyBot, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = web_bot.dashboard
    standings = service._standings
    viewer = await service.viewer(
        WebSession(seeded.cohort, seeded.bob, False, NOW + timedelta(hours=1)), seeded.cohort
    )
    ranked = asyncio.Event()
    asked: list[str] = []
    board_top = standings.board_top

    async def slow_ranking(**kwargs: Any) -> Any:
        asked.append(kwargs["period"])
        await ranked.wait()
        return await board_top(**kwargs)

    monkeypatch.setattr(standings, "board_top", slow_ranking)
    first = asyncio.create_task(service.leaderboard(viewer, viewer.cohort, "all", "points"))
    others = [
        asyncio.create_task(service.leaderboard(viewer, viewer.cohort, "all", "points"))
        for _ in range(4)
    ]
    await asyncio.sleep(0.01)
    first.cancel()  # the first request's client went away
    ranked.set()
    boards = await asyncio.gather(*others)
    assert asked == ["all"]
    assert [[r.name for r in b.rows] for b in boards] == [["Bob", "Carol", "Alice"]] * 4
    await service.leaderboard(viewer, viewer.cohort, "all", "points")
    assert asked == ["all"]  # kept under the data version


async def test_the_overview_and_a_members_rank_are_fresh_after_new_points(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    overview = f"/c/{seeded.cohort}/"
    alice = f"/c/{seeded.cohort}/members/{seeded.alice}"
    assert ">3 / 3</span>" in (await client.get(overview)).text
    assert "points · #3</span>" in (await client.get(alice)).text
    async with web_bot.sessions() as session:  # a newcomer earns points; alice takes the lead
        erin = Member(cohort_id=seeded.cohort, platform_user_id="erin", display_name="Erin")
        session.add(erin)
        await session.flush()
        assert erin.id is not None
        for member_id, points in ((erin.id, 5), (seeded.alice, 100)):
            await award_points(
                session,
                cohort_id=seeded.cohort,
                member_id=member_id,
                kind="answer",
                ref=f"fresh:{member_id}",
                points=points,
                local_day=NOW.date(),
                at=NOW,
            )
        await session.commit()
    assert ">4 / 4</span>" in (await client.get(overview)).text
    assert "points · #1</span>" in (await client.get(alice)).text
    board = await client.get(f"/c/{seeded.cohort}/leaderboard?period=all")
    assert board.text.index("Alice") < board.text.index("Bob") < board.text.index("Erin")


@dataclass(frozen=True)
class PageData:
    name: str
    rows: tuple[int, ...]


def test_kept_pages_are_found_by_their_data_not_held_as_it() -> None:
    from bot.platforms.web.app import RenderedPages

    Data = PageData
    pages = RenderedPages(size=2)
    renders: list[str] = []

    def render(text: str) -> Any:
        return lambda: renders.append(text) or text

    first = Data("a", (1, 2))
    assert pages.get(("p", first), render("one")) == b"one"
    assert pages.get(("p", Data("a", (1, 2))), render("two")) == b"one"  # equal data: kept
    assert pages.get(("p", Data("a", (1, 3))), render("three")) == b"three"  # other data
    assert renders == ["one", "three"] and pages.renders == 2
    # What is kept is a digest: the data itself is not held by the cache.
    assert all(isinstance(k, bytes) and len(k) == 20 for k in pages._entries)
    unpicklable = ("p", lambda: None)
    assert pages.get(unpicklable, render("four")) == b"four"
    assert pages.get(unpicklable, render("five")) == b"five"  # never kept, rendered each time


def test_a_dashboard_process_settles_its_start_up_heap(web_bot: StudyBot) -> None:
    import gc

    from bot.platforms.web import settle_heap
    from bot.platforms.web.app import create_app

    app = create_app(web_bot)
    env = app.state.templates.env
    assert not env.cache or len(env.cache) < len(env.list_templates())
    try:
        settle_heap(app)
        assert gc.get_freeze_count() > 10_000  # modules, mappings and templates set aside
        assert {t for _, t in env.cache} >= set(env.list_templates())  # all compiled
    finally:
        gc.unfreeze()


def test_drawing_processes_yield_to_pages_and_come_up_drawn_once() -> None:
    import os
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    from bot.services.charts import prepare_drawing_process

    with ProcessPoolExecutor(
        1, mp_context=get_context("spawn"), initializer=prepare_drawing_process
    ) as pool:
        niceness = pool.submit(os.nice, 0).result(timeout=60)
    assert niceness >= os.nice(0) + 2  # lower priority than this (the pages') process


async def test_a_dashboard_of_its_own_opens_its_pool_before_taking_requests(
    web_bot: StudyBot,
) -> None:
    pool: Any = web_bot.engine.pool
    await web_bot.engine.dispose()  # nothing open yet, as in a process just started
    assert pool.checkedin() == 0 or not hasattr(pool, "size")
    opened = await web_bot.dashboard.ready_connections()
    pool = web_bot.engine.pool
    if hasattr(pool, "size"):
        # Every connection was held at once, so each one is a connection of its own.
        assert opened == pool.size() > 1 and pool.checkedin() == opened
    else:  # a pool that is not sized (SQLite in memory): one connection, read once
        assert opened == 1
