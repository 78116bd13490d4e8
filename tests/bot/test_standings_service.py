"""Leaderboards and stats read from the ledger: ties, pages, the caller's rank, cohort scope."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain.scoring import Reason
from bot.errors import InvalidInput, NotAllowed
from bot.services.context import Actor
from bot.services.standings import StandingsService
from bot.store import points as points_store
from bot.store.models import Answer, Cohort, Grade, Member
from content import load_library

NOW = datetime(2026, 12, 9, 12, tzinfo=UTC)  # a Wednesday


def actor(user: str, channel: str = "ch") -> Actor:
    return Actor("console", "w", channel, user, user)


async def make_cohort(session: Any, channel: str, members: int) -> tuple[int, list[int]]:
    cohort = Cohort(
        name=f"cohort {channel}",
        platform="console",
        workspace_id="w",
        channel_id=channel,
        timezone="Europe/Berlin",
        post_time=time(8),
        start_date=date(2026, 12, 1),
    )
    session.add(cohort)
    await session.flush()
    ids = []
    for n in range(members):
        m = Member(cohort_id=cohort.id, platform_user_id=f"{channel}-u{n}", display_name=f"M{n}")
        session.add(m)
        await session.flush()
        ids.append(int(m.id or 0))
    return int(cohort.id or 0), ids


async def give(
    session: Any, cohort_id: int, member_id: int, points: int, at: datetime, **kw: Any
) -> None:
    await points_store.record_award(
        session,
        cohort_id=cohort_id,
        member_id=member_id,
        reason=kw.pop("reason", Reason.ANSWER),
        ref=kw.pop("ref", f"answer:{member_id}:{at.isoformat()}"),
        points=points,
        local_day=at.date(),
        at=at,
    )


@pytest.fixture
async def board(db: Any) -> tuple[StandingsService, int, list[int]]:
    async with db.sessions() as session:
        cohort_id, ids = await make_cohort(session, "ch", 25)
        # 25 members: points 10..250 except a tie at 100 between members 9 and 20 where member
        # 20 got there first; all this week.
        for n, member_id in enumerate(ids):
            points = 100 if n == 20 else (n + 1) * 10
            at = NOW - timedelta(hours=1 if n != 20 else 5)
            await give(session, cohort_id, member_id, points, at)
        # Last month's points count all-time only.
        await give(session, cohort_id, ids[0], 1000, NOW - timedelta(days=40))
        await session.commit()
    service = StandingsService(db.sessions, FakeClock(NOW), load_library())
    return service, cohort_id, ids


async def test_ties_go_to_the_earlier_achiever_and_pages_are_stable(board: Any) -> None:
    service, _, ids = board
    first = await service.leaderboard(actor("ch-u0"), period="week", page=1)
    assert first.total == 25 and first.pages == 3 and len(first.rows) == 10
    values = [r.value for r in first.rows]
    assert values == sorted(values, reverse=True) and values[0] == 250
    second = await service.leaderboard(actor("ch-u0"), period="week", page=2)
    tie = [r for r in second.rows if r.value == 100]
    assert [r.member_id for r in tie] == [ids[20], ids[9]]  # member 20 reached 100 first
    assert [r.rank for r in first.rows + second.rows] == list(range(1, 21))


async def test_the_callers_own_rank_shows_even_off_the_page(board: Any) -> None:
    service, _, ids = board
    week = await service.leaderboard(actor("ch-u0"), period="week")
    assert week.me is not None and week.me.member_id == ids[0] and week.me.rank == 25
    assert not week.me_on_page
    everything = await service.leaderboard(actor("ch-u0"), period="all")
    assert everything.rows[0].member_id == ids[0] and everything.rows[0].value == 1010
    assert everything.me_on_page


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"period": "year"}, "not a period"),
        ({"metric": "karma"}, "not a metric"),
        ({"page": 4}, "past the end"),
        ({"page": 0}, "pages start at 1"),
    ],
)
async def test_bad_board_requests_get_one_sentence(
    board: Any, kw: dict[str, Any], message: str
) -> None:
    service, _, _ = board
    with pytest.raises(InvalidInput, match=message):
        await service.leaderboard(actor("ch-u0"), **kw)


async def test_mocks_drills_and_streak_boards_count_their_own_things(db: Any) -> None:
    async with db.sessions() as session:
        cohort_id, ids = await make_cohort(session, "ch", 3)
        for d in range(3):  # member 0: three days running; member 1: one day
            await give(session, cohort_id, ids[0], 5, NOW - timedelta(days=d))
        await give(
            session,
            cohort_id,
            ids[1],
            50,
            NOW,
            reason=Reason.MOCK_CANDIDATE,
            ref="mock:1:candidate",
        )
        await give(
            session, cohort_id, ids[2], 15, NOW, reason=Reason.DRILL_PASSED, ref="drill:passed:1"
        )
        await session.commit()
    service = StandingsService(db.sessions, FakeClock(NOW), load_library())
    streak = await service.leaderboard(actor("ch-u1"), period="week", metric="streak")
    assert [(r.member_id, r.value) for r in streak.rows][:1] == [(ids[0], 3)]
    mocks = await service.leaderboard(actor("ch-u1"), period="month", metric="mocks")
    assert [(r.member_id, r.value) for r in mocks.rows] == [(ids[1], 1)]
    drills = await service.leaderboard(actor("ch-u1"), period="all", metric="drills")
    assert [(r.member_id, r.value) for r in drills.rows] == [(ids[2], 1)]


async def test_stats_cover_sections_and_refuse_another_cohorts_member(db: Any) -> None:
    async with db.sessions() as session:
        cohort_id, ids = await make_cohort(session, "ch", 2)
        _, others = await make_cohort(session, "other", 1)
        for n, (qid, score) in enumerate([("E1-005", 0.5), ("E1-005", 0.9), ("E3-082", 0.4)]):
            answer = Answer(
                cohort_id=cohort_id, member_id=ids[0], question_id=qid, text="x", status="graded"
            )
            session.add(answer)
            await session.flush()
            session.add(Grade(answer_id=answer.id, score=score, grader="offline"))
            await give(session, cohort_id, ids[0], 10, NOW - timedelta(days=n))
        await session.commit()
    service = StandingsService(db.sessions, FakeClock(NOW), load_library())
    stats = await service.member_stats(actor("ch-u0"))
    by_code = {s.code: s for s in stats.sections}
    assert len(stats.sections) == 13
    assert by_code["E.1"].answered == 1 and by_code["E.1"].average == pytest.approx(0.9)
    assert by_code["E.3"].answered == 1 and by_code["E.1"].total == 40
    assert stats.points == 30 and stats.rank == 1 and stats.streak.current == 3
    assert "30 points" in stats.summary()
    peer = await service.member_stats(actor("ch-u1"), "M0")
    assert peer.member_id == ids[0]
    with pytest.raises(NotAllowed, match="not in this cohort"):
        await service.member_stats(actor("ch-u0"), "other-u0")
    assert others


async def test_the_stats_rank_agrees_with_the_all_time_board_ties_included(board: Any) -> None:
    service, _, ids = board
    everything = []
    for page in (1, 2, 3):
        everything += (await service.leaderboard(actor("ch-u0"), period="all", page=page)).rows
    for member_id in (ids[0], ids[9], ids[20], ids[24]):
        stats = await service.member_stats_of(member_id)
        (row,) = [r for r in everything if r.member_id == member_id]
        assert stats.rank == row.rank and stats.members_ranked == 25
