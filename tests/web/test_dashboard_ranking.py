"""The dashboard's boards and member ranks, ranked by the database, in the standings' order."""

from __future__ import annotations

from datetime import time, timedelta
from typing import Any

import pytest

from bot.app import StudyBot
from bot.domain import leaderboards as rules
from bot.services import dashboard as dashboard_module
from bot.services.dashboard import WebSession
from bot.store.models import Cohort, Member, MemberDay, MemberStanding
from tests.web.seed import NOW, START

# (name, all-time points, minutes before NOW the total was reached (None: never), this week's
# points by days ago). Ties on points are broken by who reached them first, then by member id.
PEOPLE: list[tuple[str, int, int | None, dict[int, int]]] = [
    ("Ann", 50, 30, {0: 20}),
    ("Ben", 50, 90, {1: 20}),  # same points as Ann, reached earlier: ahead of her
    ("Cat", 50, None, {}),  # same points, never stamped: after both
    ("Dan", 70, 10, {0: 5, 2: 15}),
    ("Eve", 50, 90, {1: 20}),  # the same points at the same instant as Ben: the lower id first
    ("Fay", 0, None, {}),  # no points: on no board
    ("Gus", 10, 5, {0: 20}),
]


async def _cohort_with_standings(web_bot: StudyBot) -> tuple[int, dict[str, int]]:
    async with web_bot.sessions() as session:
        cohort = Cohort(
            name="#ties",
            platform="console",
            workspace_id="local",
            channel_id="ties",
            timezone="UTC",
            post_time=time(8, 0),
            start_date=START,
            curriculum_length=133,
        )
        session.add(cohort)
        await session.flush()
        assert cohort.id is not None
        members = {
            name: Member(cohort_id=cohort.id, platform_user_id=name.lower(), display_name=name)
            for name, *_ in PEOPLE
        }
        session.add_all(members.values())
        await session.flush()
        ids = {name: m.id or 0 for name, m in members.items()}
        for name, points, minutes, week in PEOPLE:
            at = NOW - timedelta(minutes=minutes) if minutes is not None else None
            session.add(
                MemberStanding(member_id=ids[name], cohort_id=cohort.id, points=points, last_at=at)
            )
            for ago, earned in week.items():
                stamp = NOW - timedelta(days=ago, minutes=minutes or 0)
                session.add(
                    MemberDay(
                        member_id=ids[name],
                        day=(NOW - timedelta(days=ago)).date(),
                        cohort_id=cohort.id,
                        tz="UTC",
                        points=earned,
                        first_at=stamp,
                        last_at=stamp,
                    )
                )
        await session.commit()
    return cohort.id, ids


def _python_ranking(ids: dict[str, int], period: str) -> list[str]:
    """Return the names in the order the standings' Python ranking gives."""
    by_id = {v: k for k, v in ids.items()}
    if period == "all":
        rows = [
            (ids[n], p, NOW - timedelta(minutes=m) if m is not None else None)
            for n, p, m, _ in PEOPLE
        ]
    else:
        week_start = rules.period_start("week", NOW.date())
        assert week_start is not None
        rows = []
        for n, _, m, week in PEOPLE:
            days = [a for a in week if (NOW - timedelta(days=a)).date() >= week_start]
            if days:
                latest = NOW - timedelta(days=min(days), minutes=m or 0)
                rows.append((ids[n], sum(week[a] for a in days), latest))
    return [by_id[r.member_id] for r in rules.rank(rows)]


@pytest.mark.parametrize("period", ["all", "week"])
async def test_boards_and_member_ranks_match_the_standings_order_ties_included(
    web_bot: StudyBot, period: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cohort_id, ids = await _cohort_with_standings(web_bot)
    expected = _python_ranking(ids, period)
    service = web_bot.dashboard

    async def viewer_as(name: str) -> Any:
        return await service.viewer(
            WebSession(cohort_id, ids[name], False, NOW + timedelta(hours=1)), cohort_id
        )

    ann = await viewer_as("Ann")
    board = await service.leaderboard(ann, ann.cohort, period, "points")
    assert [r.name for r in board.rows] == expected
    assert [r.rank for r in board.rows] == list(range(1, len(expected) + 1))
    assert board.ranked == len(expected)
    if period == "all":
        assert expected == ["Dan", "Ben", "Eve", "Ann", "Cat", "Gus"]
        for place, name in enumerate(expected, start=1):  # the member page's rank agrees
            page = await service.member_page(ann, ids[name])
            assert page.rank == place, name
        assert (await service.member_page(ann, ids["Fay"])).rank is None
        # So do the /stats figures, read in one statement of their own.
        for place, name in enumerate(expected, start=1):
            stats = await service.member_stats(ann, ids[name])
            assert (stats.rank, stats.members_ranked) == (place, len(expected)), name
            _, points, _, week = next(p for p in PEOPLE if p[0] == name)
            assert stats.points == points and stats.name == name
            assert [d.points for d in stats.days] == [week[a] for a in sorted(week, reverse=True)]
        fay = await service.member_stats(ann, ids["Fay"])
        assert (fay.rank, fay.members_ranked, fay.points, fay.days) == (None, 6, 0, ())

    # A viewer below the rows shown gets their own row with their place on the whole board.
    monkeypatch.setattr(dashboard_module, "BOARD_PAGE", 2)
    web_bot.dashboard._cache.entries.clear()
    for place, name in enumerate(expected, start=1):
        viewer = await viewer_as(name)
        shown = await service.leaderboard(viewer, viewer.cohort, period, "points")
        assert [r.name for r in shown.rows] == expected[:2]
        if place > 2:
            assert shown.own is not None
            assert (shown.own.rank, shown.own.name) == (place, name)
        else:
            assert shown.own is None and shown.rows[place - 1].own
    fay = await viewer_as("Fay")
    assert (await service.leaderboard(fay, fay.cohort, period, "points")).own is None
