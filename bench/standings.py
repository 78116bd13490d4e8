"""Standings at scale: /leaderboard and /stats query times (p50, p95) and the weekly recap's total.

Fills a throwaway database with members spread over cohorts and a points ledger of random
events over ~four months (rolled up into member days and standings as the bot's writes do),
plus graded answers for the section stats, then times the service calls the commands make:

- `/leaderboard`: `StandingsService.leaderboard` for a random member, period, metric and page;
- `/stats`: `StandingsService.member_stats_of` and the chart drawn to PNG (and again, unchanged);
- the recap: `RecapService.publish_due` composing and posting every cohort's week (with charts);
- a sample of live writes through `record_award` (event + rollups + streak), for the write cost.

    .venv/bin/python bench/standings.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/standings.py --members 2000 --events 100000   # SQLite, smaller
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bench.scratch_database import scratch_database  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.domain import streaks  # noqa: E402
from bot.domain.claims import ClaimPolicy  # noqa: E402
from bot.domain.scoring import KIND_OF_REASON, Reason  # noqa: E402
from bot.errors import InvalidInput  # noqa: E402
from bot.messages import Channel, Message, SentMessage  # noqa: E402
from bot.services.charts import stats_png  # noqa: E402
from bot.services.context import Actor  # noqa: E402
from bot.services.recap import RecapService  # noqa: E402
from bot.services.standings import StandingsService  # noqa: E402
from bot.store import points as points_store  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from bot.store.models import (  # noqa: E402
    Answer,
    Cohort,
    Grade,
    Member,
    MemberDay,
    MemberStanding,
    PointsEvent,
)
from content import load_library  # noqa: E402

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # a Monday, after 08:00 UTC
DAYS = 120
REASONS = [
    (Reason.ANSWER, 0.80, (2, 40)),
    (Reason.MOCK_CANDIDATE, 0.04, (20, 20)),
    (Reason.MOCK_INTERVIEWER, 0.04, (15, 15)),
    (Reason.DRILL_PASSED, 0.07, (15, 15)),
    (Reason.DRILL_FIRST, 0.05, (10, 10)),
]


class NullPublisher:
    """A publisher that accepts every post (the recap's cost is the bot's, not the platform's)."""

    platform = "console"

    def __init__(self) -> None:
        self.posts = 0

    async def post(self, channel: Channel, message: Message, *, idempotency_key: str) -> Any:
        self.posts += 1
        return SentMessage(str(self.posts), channel.channel_id)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> None:
        return None


def pct(values: list[float], q: float) -> float:
    """Return the q-quantile (0..1) of some timings, in milliseconds."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def fill(sessions: Any, engine: Any, *, members: int, cohorts: int, events: int) -> None:
    """Write cohorts, members, answers with grades, and the ledger with its rollups."""
    rng = random.Random(18)
    library = load_library()
    qids = list(library.questions)
    t0 = time.perf_counter()
    async with sessions() as session:
        for c in range(cohorts):
            session.add(
                Cohort(
                    id=c + 1,
                    name=f"cohort {c + 1}",
                    platform="console",
                    workspace_id="w",
                    channel_id=f"ch{c + 1}",
                    timezone="UTC",
                    start_date=(NOW - timedelta(days=DAYS)).date(),
                )
            )
        await session.flush()
        await session.execute(
            insert(Member),
            [
                {
                    "id": m + 1,
                    "cohort_id": m % cohorts + 1,
                    "platform_user_id": f"u{m + 1}",
                    "display_name": f"Member {m + 1}",
                    "is_admin": False,
                    "active": True,
                    "joined_at": NOW - timedelta(days=DAYS),
                }
                for m in range(members)
            ],
        )
        await session.commit()
    # Each member is active on a random share of days; events fall on their active days.
    active = {
        m: sorted(rng.sample(range(DAYS), rng.randint(10, DAYS - 10)))
        for m in range(1, members + 1)
    }
    rows: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    grades: list[dict[str, Any]] = []
    weights = [w for _, w, _ in REASONS]
    for n in range(events):
        member = rng.randint(1, members)
        day = rng.choice(active[member])
        at = NOW - timedelta(days=DAYS - day, seconds=rng.randint(0, 86_000))
        reason, _, (lo, hi) = rng.choices(REASONS, weights)[0]
        rows.append(
            {
                "cohort_id": (member - 1) % cohorts + 1,
                "member_id": member,
                "kind": KIND_OF_REASON[reason],
                "reason": reason.value,
                "ref": f"bench:{n}",
                "points": rng.randint(lo, hi),
                "local_day": at.date(),
                "created_at": at,
            }
        )
        if reason == Reason.ANSWER and n % 3 == 0:  # a third of answers keep their grade here
            answers.append(
                {
                    "id": len(answers) + 1,
                    "cohort_id": (member - 1) % cohorts + 1,
                    "member_id": member,
                    "question_id": rng.choice(qids),
                    "text": "x",
                    "source": "command",
                    "status": "graded",
                    "attempts": 0,
                    "reply_to": {},
                    "created_at": at,
                    "graded_at": at,
                }
            )
            grades.append(
                {
                    "answer_id": len(answers),
                    "score": round(rng.random(), 2),
                    "grader": "bench",
                    "points": [],
                    "feedback": "",
                    "notices": [],
                    "tokens_used": 0,
                    "latency_ms": 0.0,
                    "created_at": at,
                }
            )
    for table, batch in ((PointsEvent, rows), (Answer, answers), (Grade, grades)):
        for start in range(0, len(batch), 20_000):
            async with sessions() as session:
                await session.execute(insert(table), batch[start : start + 20_000])
                await session.commit()
    # The rollups the bot keeps beside the ledger, built here in bulk.
    days: dict[tuple[int, date], dict[str, Any]] = {}
    standings: dict[int, dict[str, Any]] = {}
    for r in rows:
        key = (r["member_id"], r["local_day"])
        d = days.setdefault(
            key,
            {
                "member_id": key[0],
                "day": key[1],
                "cohort_id": r["cohort_id"],
                "tz": "UTC",
                "points": 0,
                "answers": 0,
                "mocks": 0,
                "drills": 0,
                "first_at": r["created_at"],
                "last_at": r["created_at"],
            },
        )
        d["points"] += r["points"]
        d["answers"] += r["reason"] == "answer"
        d["mocks"] += r["reason"] in ("mock_candidate", "mock_interviewer")
        d["drills"] += r["reason"] == "drill_passed"
        d["first_at"] = min(d["first_at"], r["created_at"])
        d["last_at"] = max(d["last_at"], r["created_at"])
        s = standings.setdefault(
            r["member_id"],
            {
                "member_id": r["member_id"],
                "cohort_id": r["cohort_id"],
                "points": 0,
                "mocks": 0,
                "drills": 0,
                "last_at": None,
            },
        )
        s["points"] += r["points"]
        s["mocks"] += r["reason"] in ("mock_candidate", "mock_interviewer")
        s["drills"] += r["reason"] == "drill_passed"
        s["last_at"] = max(s["last_at"] or r["created_at"], r["created_at"])
    by_member: dict[int, list[dict[str, Any]]] = {}
    for d in sorted(days.values(), key=lambda d: d["day"]):
        by_member.setdefault(d["member_id"], []).append(d)
    for member, member_days in by_member.items():
        streak = streaks.fold(streaks.ActiveDay(d["day"], "UTC") for d in member_days)
        standings[member].update(
            streak=streak.run,
            longest=streak.longest,
            freezes=streak.freezes,
            streak_day=streak.last_day,
            streak_tz="UTC",
            streak_at=member_days[-1]["first_at"],
        )
    day_rows = list(days.values())
    for start in range(0, len(day_rows), 20_000):
        async with sessions() as session:
            await session.execute(insert(MemberDay), day_rows[start : start + 20_000])
            await session.commit()
    async with sessions() as session:
        await session.execute(insert(MemberStanding), list(standings.values()))
        await session.commit()
    if engine.dialect.name == "postgresql":
        async with engine.begin() as conn:
            for table in ("points_event", "member_day", "member_standing", "answer", "grade"):
                await conn.execute(text(f"ANALYZE {table}"))
            for seq, table in (
                ("member_id_seq", "member"),
                ("answer_id_seq", "answer"),
                ("cohort_id_seq", "cohort"),
            ):
                await conn.execute(text(f"SELECT setval('{seq}', (SELECT max(id) FROM {table}))"))
    print(
        f"filled: {members:,} members in {cohorts} cohorts, {len(rows):,} points events, "
        f"{len(day_rows):,} member days, {len(answers):,} graded answers "
        f"in {time.perf_counter() - t0:.0f} s"
    )


async def bench(url: str, schema: str | None, args: argparse.Namespace) -> None:
    engine = make_engine(url, schema=schema)
    sessions = make_session_factory(engine)
    await fill(sessions, engine, members=args.members, cohorts=args.cohorts, events=args.events)
    clock = FakeClock(NOW)
    standings = StandingsService(sessions, clock, load_library())
    rng = random.Random(7)
    per_cohort = args.members // args.cohorts

    # /leaderboard
    timings: dict[str, list[float]] = {}
    for _ in range(args.boards):
        member = rng.randint(1, args.members)
        cohort = (member - 1) % args.cohorts + 1
        actor = Actor("console", "w", f"ch{cohort}", f"u{member}")
        period = rng.choice(["week", "month", "all"])
        metric = rng.choice(["points", "points", "streak", "mocks", "drills"])
        page = rng.choice([1, 1, 2, 3])
        t, c = time.perf_counter(), time.process_time()
        try:
            await standings.leaderboard(actor, period=period, metric=metric, page=page)
        except InvalidInput:  # a short board (this week's drills): page 1 instead
            t, c = time.perf_counter(), time.process_time()
            await standings.leaderboard(actor, period=period, metric=metric)
        elapsed = time.perf_counter() - t
        timings.setdefault("all", []).append(elapsed)
        timings.setdefault("all, bot CPU only", []).append(time.process_time() - c)
        timings.setdefault(f"{period}/{metric}", []).append(elapsed)
    print(f"\n/leaderboard ({per_cohort:,} members per cohort), {args.boards} calls")
    print(f"  (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    for key in sorted(timings, key=lambda k: (k != "all", k)):
        values = timings[key]
        print(
            f"  {key:<16} n={len(values):<4} p50 {pct(values, 0.5):7.1f} ms   "
            f"p95 {pct(values, 0.95):7.1f} ms"
        )

    # /stats
    query, chart, total, chart_cpu = [], [], [], []
    for _ in range(args.stats):
        member = rng.randint(1, args.members)
        t = time.perf_counter()
        stats = await standings.member_stats_of(member)
        q, c = time.perf_counter(), time.process_time()
        png = stats_png(stats)
        done = time.perf_counter()
        chart_cpu.append(time.process_time() - c)
        assert png[:4] == b"\x89PNG"
        query.append(q - t)
        chart.append(done - q)
        total.append(done - t)
    # The same members again, nothing new since: the drawn charts are reused.
    repeat = []
    for member in rng.sample(range(1, args.members + 1), args.stats):
        stats_png(await standings.member_stats_of(member))  # first draw, or a cached one
        t = time.perf_counter()
        stats_png(await standings.member_stats_of(member))
        repeat.append(time.perf_counter() - t)
    print(f"\n/stats, {args.stats} calls")
    print(f"  (load average {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    rows = (
        ("query", query),
        ("chart (PNG)", chart),
        ("chart, CPU only", chart_cpu),
        ("query + chart", total),
        ("same data again", repeat),
    )
    for name, values in rows:
        print(f"  {name:<16} p50 {pct(values, 0.5):7.1f} ms   p95 {pct(values, 0.95):7.1f} ms")

    # The weekly recap of every cohort
    publisher = NullPublisher()
    recaps = RecapService(
        sessions,
        clock,
        standings,
        {"console": publisher},
        holder="bench",
        policy=ClaimPolicy(lease_s=120, heartbeat_interval_s=5),
    )
    t = time.perf_counter()
    report = await recaps.publish_due(NOW)
    elapsed = time.perf_counter() - t
    assert len(report.posted) == args.cohorts == publisher.posts, report
    print(
        f"\nweekly recap: {args.cohorts} cohort(s) composed, charted and posted in "
        f"{elapsed * 1000:.0f} ms ({elapsed * 1000 / args.cohorts:.0f} ms per cohort)"
    )

    # Live writes through the ledger
    writes = []
    for n in range(args.writes):
        member = rng.randint(1, args.members)
        async with sessions() as session:
            t = time.perf_counter()
            await points_store.record_award(
                session,
                cohort_id=(member - 1) % args.cohorts + 1,
                member_id=member,
                reason=Reason.ANSWER,
                ref=f"live:{n}",
                points=6,
                local_day=NOW.date(),
                at=NOW,
            )
            await session.commit()
            writes.append(time.perf_counter() - t)
    print(
        f"\nrecord_award (event + day + standing + streak, one commit), {args.writes} writes: "
        f"p50 {pct(writes, 0.5):.1f} ms, p95 {pct(writes, 0.95):.1f} ms"
    )
    lb95 = pct(timings["all"], 0.95)
    st95 = pct(total, 0.95)
    print(
        f"\ngoals: leaderboard p95 {lb95:.1f} ms (< 20: {'met' if lb95 < 20 else 'NOT met'}), "
        f"/stats p95 {st95:.1f} ms (< 300: {'met' if st95 < 300 else 'NOT met'})"
    )
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg", help="a PostgreSQL URL (a fresh schema is used and dropped)")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--cohorts", type=int, default=10)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--boards", type=int, default=300)
    parser.add_argument("--stats", type=int, default=40)
    parser.add_argument("--writes", type=int, default=200)
    args = parser.parse_args()
    with scratch_database(args.pg) as (url, schema):
        asyncio.run(bench(url, schema, args))


if __name__ == "__main__":
    main()
