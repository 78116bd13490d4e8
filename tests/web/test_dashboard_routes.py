"""The dashboard's routes against PostgreSQL: links, sessions, permissions, pages and charts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from urllib.parse import urlparse

import pytest

from bot.app import StudyBot
from bot.commands import dispatch
from bot.services.dashboard import AccessRefused, DashboardService
from bot.store.points import award_points
from tests.web.seed import START, Seeded, actor

pytestmark = pytest.mark.parametrize(
    "db", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


async def link_for(bot: StudyBot, user: str, channel: str = "study") -> str:
    """Ask /dashboard as a member and return the path of the link it answers with."""
    reply = await dispatch(bot, actor(user, channel), "dashboard", {})
    assert reply.ephemeral
    text = reply.messages[0].text or ""
    url = next(word for word in text.split() if word.startswith("http"))
    assert url.startswith(bot.dashboard.base_url + "/open/")
    return urlparse(url).path


async def sign_in(bot: StudyBot, client: Any, user: str, channel: str = "study") -> Any:
    """Follow a fresh link and press its button; return the response of the redirect."""
    path = await link_for(bot, user, channel)
    shown = await client.get(path)
    assert shown.status_code == 200 and "Open the dashboard" in shown.text
    return await client.post(path)


async def earn(bot: StudyBot, cohort_id: int, member_id: int, *, ref: str, points: int) -> None:
    """Give a member points for an answer on the seed's tenth day."""
    async with bot.sessions() as session:
        await award_points(
            session,
            cohort_id=cohort_id,
            member_id=member_id,
            kind="answer",
            ref=ref,
            points=points,
            local_day=START + timedelta(days=9),
        )
        await session.commit()


async def test_a_link_opens_a_session_for_the_member_and_the_cohort(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    opened = await sign_in(web_bot, client, "bob")
    assert opened.status_code == 303
    assert opened.headers["location"] == f"/c/{seeded.cohort}/"
    cookie = opened.headers["set-cookie"]
    assert f"sb_{seeded.cohort}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1
    page = await client.get(f"/c/{seeded.cohort}/")
    assert page.status_code == 200
    assert "Day 10" in page.text and "of 133" in page.text
    assert '8</span><span class="what">posts made' in page.text
    assert '1</span><span class="what">posts missed' in page.text
    assert "3 / 3" in page.text  # all three members earned points this week
    assert f'src="/c/{seeded.cohort}/charts/week.svg"' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"


async def test_a_reused_expired_or_tampered_link_gets_403_and_learns_nothing(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    path = await link_for(web_bot, "bob")
    assert (await client.post(path)).status_code == 303
    client.cookies.clear()
    for response in (await client.get(path), await client.post(path)):
        assert response.status_code == 403
        assert "used already" in response.text
    stale = await link_for(web_bot, "bob")
    web_bot.clock.advance(seconds=web_bot.settings.web.link_ttl_s + 1)  # type: ignore[attr-defined]
    expired = await client.post(stale)
    assert expired.status_code == 403 and "expired" in expired.text
    token = path.rsplit("/", 1)[1]
    tampered = await client.get(f"/open/{token[:-2]}{'AA' if token[-2:] != 'AA' else 'BB'}")
    assert tampered.status_code == 403 and "not valid" in tampered.text
    for response in (expired, tampered):
        assert "set-cookie" not in response.headers
        assert "#study" not in response.text and "Bob" not in response.text


async def test_a_session_opens_only_its_own_cohort(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    for path in (
        f"/c/{seeded.other_cohort}/",
        f"/c/{seeded.other_cohort}/leaderboard",
        f"/c/{seeded.other_cohort}/members/{seeded.dave}",
        f"/c/{seeded.other_cohort}/charts/week.svg",
    ):
        response = await client.get(path)
        assert response.status_code == 403, path
        assert "Dave" not in response.text and "#elsewhere" not in response.text
    # Another cohort's member cannot be read through the session's own cohort either.
    assert (await client.get(f"/c/{seeded.cohort}/members/{seeded.dave}")).status_code == 404
    chart = await client.get(f"/c/{seeded.cohort}/charts/member-{seeded.dave}.svg")
    assert chart.status_code == 404 and "<svg" not in chart.text and "Dave" not in chart.text
    nobody = await client.get(f"/c/{seeded.cohort}/charts/member-987654.svg")
    assert nobody.status_code == 404 and "no such member in this cohort" in nobody.text
    client.cookies.clear()
    assert (await client.get(f"/c/{seeded.cohort}/")).status_code == 403


async def test_a_forged_cookie_for_another_cohort_is_refused(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    opened = await sign_in(web_bot, client, "bob")
    value = opened.cookies[f"sb_{seeded.cohort}"]
    client.cookies.clear()
    client.cookies.set(f"sb_{seeded.other_cohort}", value)
    assert (await client.get(f"/c/{seeded.other_cohort}/")).status_code == 403
    client.cookies.set(f"sb_{seeded.cohort}", value[:-3] + "xyz")
    assert (await client.get(f"/c/{seeded.cohort}/")).status_code == 403


async def test_the_leaderboard_marks_the_viewers_row_and_keeps_to_the_cohort(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "carol")
    page = await client.get(f"/c/{seeded.cohort}/leaderboard?period=all")
    assert page.status_code == 200
    rows = page.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    names = [next(n for n in ("Bob", "Carol", "Alice") if n in row) for row in rows]
    assert names == ["Bob", "Carol", "Alice"]
    assert ['class="own"' in row for row in rows] == [False, True, False]
    assert "Dave" not in page.text
    week = await client.get(f"/c/{seeded.cohort}/leaderboard?period=week")
    assert "Alice" in week.text and ">15<" not in week.text  # day 2's points are older
    bad = await client.get(f"/c/{seeded.cohort}/leaderboard?period=decade")
    assert bad.status_code == 404


async def test_others_answers_show_only_when_the_cohort_allows_or_to_admins(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    own = await client.get(f"/c/{seeded.cohort}/members/{seeded.bob}")
    assert "Backprop is magic." in own.text and "Names the chain rule" in own.text
    assert "v-missing" in own.text and "Solid round." in own.text  # scorecard as candidate
    assert "wrong output for a row of -inf" in own.text  # a failed submission's verdict
    other = await client.get(f"/c/{seeded.cohort}/members/{seeded.carol}")
    assert other.status_code == 200 and "Carol" in other.text
    assert "It is the chain rule." not in other.text and "Solid round." not in other.text
    assert "keeps answers private" in other.text

    client.cookies.clear()
    await sign_in(web_bot, client, "alice")  # a cohort admin
    as_admin = await client.get(f"/c/{seeded.cohort}/members/{seeded.carol}")
    assert "It is the chain rule." in as_admin.text and "Solid round." in as_admin.text

    await dispatch(web_bot, actor("alice"), "cohort setup", {"answers_public": "yes"})
    client.cookies.clear()
    await sign_in(web_bot, client, "bob")
    public = await client.get(f"/c/{seeded.cohort}/members/{seeded.carol}")
    assert "It is the chain rule." in public.text


async def test_charts_are_svg_drawn_once_per_data_change(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    cache = client.app.state.svg_cache
    path = f"/c/{seeded.cohort}/charts/member-{seeded.bob}.svg"
    first = await client.get(path)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("image/svg+xml")
    assert first.text.lstrip().startswith("<?xml") and "<svg" in first.text
    again = await client.get(path)
    assert again.content == first.content and cache.renders == 1
    unchanged = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304
    await earn(web_bot, seeded.cohort, seeded.bob, ref="late", points=7)
    changed = await client.get(path, headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.content != first.content
    assert cache.renders == 2
    # Points of another member move the ranks, but bob's chart shows none: it is not drawn again.
    await earn(web_bot, seeded.cohort, seeded.carol, ref="ahead", points=500)
    kept = await client.get(path, headers={"If-None-Match": changed.headers["etag"]})
    assert kept.status_code == 304 and cache.renders == 2
    page = await client.get(f"/c/{seeded.cohort}/members/{seeded.bob}")
    assert ">57</span>" in page.text  # the page's figures come from the same standings
    week = await client.get(f"/c/{seeded.cohort}/charts/week.svg")
    assert week.status_code == 200 and "Points per day" in week.text
    carol = f"/c/{seeded.cohort}/charts/member-{seeded.carol}.svg"
    at_once = await asyncio.gather(*(client.get(carol) for _ in range(5)))
    assert {r.status_code for r in at_once} == {200} and len({r.content for r in at_once}) == 1
    assert cache.renders == 4  # bob twice, the week, and carol once for five requests


async def test_drill_boards_and_the_hardest_questions_link_to_their_detail(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    boards = await client.get(f"/c/{seeded.cohort}/drills")
    assert f'href="/c/{seeded.cohort}/drills/softmax/cpu"' in boards.text
    board = await client.get(f"/c/{seeded.cohort}/drills/softmax/cpu")
    rows = board.text.split("<tbody>")[1].split("<tr")[1:]
    assert ["Alice" in rows[0], "Bob" in rows[1], "Carol" in rows[2]] == [True, True, True]
    assert 'class="own"' in rows[1] and "1.20 ms" in rows[1]
    hardest = await client.get(f"/c/{seeded.cohort}/questions")
    order = [hardest.text.index(q) for q in ("E1-003", "E2-001")]
    assert order == sorted(order) and "30%" in hardest.text
    question = await client.get(f"/c/{seeded.cohort}/questions/E1-003")
    assert question.status_code == 200 and "Rubric" in question.text
    assert web_bot.library.rubric_for("E1-003")[0] in question.text
    missing = await client.get(f"/c/{seeded.cohort}/questions/E99-999")
    assert missing.status_code == 404


async def test_the_public_leaderboard_opens_only_when_the_cohort_opts_in(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    path = f"/public/{seeded.cohort}/leaderboard?period=all"
    assert (await client.get(path)).status_code == 403
    with pytest.raises(Exception, match="admins"):
        await dispatch(web_bot, actor("bob"), "cohort setup", {"leaderboard_public": "yes"})
    await dispatch(web_bot, actor("alice"), "cohort setup", {"leaderboard_public": "yes"})
    public = await client.get(path)
    assert public.status_code == 200 and "Bob" in public.text
    assert 'class="own"' not in public.text and "/members/" not in public.text


async def test_the_generated_secret_is_kept_so_another_process_opens_the_link(
    web_bot: StudyBot, seeded: Seeded
) -> None:
    path = await link_for(web_bot, "bob")
    token = path.rsplit("/", 1)[1]
    other = DashboardService(
        web_bot.sessions, web_bot.clock, lambda: web_bot.library, base_url="http://x"
    )
    assert await other.signing_secret() == await web_bot.dashboard.signing_secret()
    opened = await other.open_link(token)
    assert (opened.cohort_id, opened.member_id) == (seeded.cohort, seeded.bob)
    with pytest.raises(AccessRefused, match="used already"):
        await web_bot.dashboard.open_link(token)


async def test_two_processes_opening_one_link_at_once_open_one_session(
    web_bot: StudyBot, seeded: Seeded
) -> None:
    token = (await link_for(web_bot, "bob")).rsplit("/", 1)[1]
    services = [
        DashboardService(web_bot.sessions, web_bot.clock, lambda: web_bot.library, base_url="x")
        for _ in range(4)
    ]
    results = await asyncio.gather(*(s.open_link(token) for s in services), return_exceptions=True)
    assert sum(not isinstance(r, BaseException) for r in results) == 1
    assert all(isinstance(r, AccessRefused) for r in results if isinstance(r, BaseException))


async def test_only_members_get_a_link_and_https_makes_the_cookie_secure(
    web_bot: StudyBot, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(Exception, match="members"):
        await dispatch(web_bot, actor("mallory"), "dashboard", {})
    import httpx

    from bot.platforms.web.app import create_app

    web_bot.dashboard.base_url = "https://study.example.org"
    transport = httpx.ASGITransport(app=create_app(web_bot))
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as http:
        path = await link_for(web_bot, "bob")
        opened = await http.post(path)
    assert "Secure" in opened.headers["set-cookie"]


async def test_every_standings_metric_has_a_board_with_the_viewers_row(
    web_bot: StudyBot, seeded: Seeded, client: Any
) -> None:
    await sign_in(web_bot, client, "bob")
    for metric in ("points", "streak", "mocks", "drills"):
        page = await client.get(f"/c/{seeded.cohort}/leaderboard?period=all&metric={metric}")
        assert page.status_code == 200, metric
        assert f'metric={metric}" aria-current="page"' in page.text
    streak = await client.get(f"/c/{seeded.cohort}/leaderboard?period=all&metric=streak")
    rows = streak.text.split("<tbody>")[1].split("</tbody>")[0].split("<tr")[1:]
    assert any('class="own"' in row and "Bob" in row for row in rows)
    assert (await client.get(f"/c/{seeded.cohort}/leaderboard?metric=karma")).status_code == 404


async def test_the_bot_process_serves_the_dashboard_only_when_a_port_is_set(
    web_bot: StudyBot, seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import httpx

    from bot.platforms.web import serving_dashboard

    async with serving_dashboard(web_bot):  # STUDYBOT_WEB_PORT unset: nothing listens
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "face:web"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(web_bot.settings.web, "port", port)
    async with serving_dashboard(web_bot):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(100):
                try:
                    home = await http.get("/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            assert home.status_code == 200 and "/dashboard" in home.text
