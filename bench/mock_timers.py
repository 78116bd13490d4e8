"""Run many mock rooms' pacing timers at once on a real clock, and measure announcement lateness.

One bot process (this one) runs the mock timer over N running rooms on PostgreSQL (or SQLite),
with the guide's 45 minutes scaled down (45 minutes to 90 s is a speed of 30). Every
announcement goes through the fenced claim and the room's records, as in production; the
publisher waits a few milliseconds per call, like a nearby platform. Lateness is the real time
between an announcement's due instant and the moment it was handed to the publisher. Rooms start
spread over `--stagger-s` seconds, as members press /mock start at different times; with 0 they
all start at the same instant (a worst case no cohort produces).

    .venv/bin/python bench/mock_timers.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/mock_timers.py --rooms 100 --scaled-s 30      # SQLite, quick look

Targets: p99 lateness under 250 ms; the CPU per room is printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, select, text  # noqa: E402

from bench.scratch_database import scratch_database  # noqa: E402
from bot.clock import ScaledClock  # noqa: E402
from bot.domain.claims import ClaimPolicy  # noqa: E402
from bot.messages import Channel, Message, SentMessage  # noqa: E402
from bot.services.mocks import MockService, MockTimers  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from bot.store.models import Cohort, Member, MockAnnouncement, MockRoom  # noqa: E402
from content import load_library  # noqa: E402

TARGET_P99_MS = 250.0


class NearbyPlatform:
    """A publisher that answers after a few milliseconds, like a platform close by."""

    platform = "console"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.calls = 0

    async def post(self, channel: Channel, message: Message, *, idempotency_key: str) -> Any:
        """Accept a post."""
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        return SentMessage(f"m{self.calls}", channel.channel_id)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> Any:
        """Find nothing."""
        return None

    async def reply_in_thread(self, channel: Channel, thread_id: str, message: Message) -> Any:
        """Accept a reply."""
        return await self.post(channel, message, idempotency_key="")

    async def send_dm(self, user_id: str, message: Message) -> Any:
        """Accept a DM."""
        return await self.post(Channel("console", "", user_id), message, idempotency_key="")

    async def edit(self, sent: SentMessage, message: Message) -> None:
        """Accept an edit."""
        self.calls += 1
        await asyncio.sleep(self.delay_s)


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def run(args: argparse.Namespace, db_url: str, schema: str | None) -> dict[str, Any]:
    """Seed the rooms, run the timer until every room ended, and measure."""
    library = load_library()
    speed = 45 * 60 / args.scaled_s
    engine = make_engine(db_url, schema=schema)
    sessions = make_session_factory(engine)
    begin = datetime.now(UTC)
    clock = ScaledClock(begin, speed)
    rng = random.Random(7)
    async with sessions.begin() as s:
        cohort = Cohort(
            name="bench",
            platform="console",
            workspace_id="w",
            channel_id="c",
            start_date=begin.date(),
        )
        s.add(cohort)
        await s.flush()
        assert cohort.id is not None
        await s.execute(
            insert(Member),
            [
                {
                    "cohort_id": cohort.id,
                    "platform_user_id": f"u{i}",
                    "display_name": f"M{i}",
                    "joined_at": begin,
                }
                for i in range(2 * args.rooms)
            ],
        )
        ids = (await s.execute(select(Member.id).order_by(Member.id))).scalars().all()
        lead = timedelta(seconds=2 * speed)  # the first room starts 2 real seconds from now
        rows = []
        for r in range(args.rooms):
            started = begin + lead + timedelta(seconds=rng.uniform(0, args.stagger_s) * speed)
            rows.append(
                {
                    "cohort_id": cohort.id,
                    "interviewer_id": ids[2 * r],
                    "candidate_id": ids[2 * r + 1],
                    "status": "running",
                    "started_at": started,
                    "next_due_at": started,
                    "channel_id": f"room-{r}",
                    "platform": "console",
                    "workspace_id": "w",
                    "scorecard": {},
                    "paused_spans": [],
                    "extensions": [],
                    "confirmed": [],
                    "created_at": begin,
                    "kind": "system-design",
                    "round": 1,
                    "paused_total_s": 0.0,
                    "next_phase": 0,
                    "status_message_id": f"s{r}",
                    "matched_at": begin,
                    "last_activity_at": begin,
                }
            )
        await s.execute(insert(MockRoom), rows)
    platform = NearbyPlatform(args.platform_ms / 1000)
    service = MockService(
        sessions,
        library,
        clock,
        {"console": platform},
        holder=f"bench-{os.getpid()}",
        # The policy's times scale with the clock, so the window a send may start in after
        # its claim is the production one in real time (5 s), not 1/30 of it.
        policy=ClaimPolicy(lease_s=120 * speed, heartbeat_interval_s=5 * speed),
    )
    service.rooms_in_flight = args.in_flight
    timers = MockTimers(service, clock, tick_s=args.tick_s * speed)
    timers.housekeeping_every = timedelta(seconds=30 * speed)  # every 30 s of real time
    timers.min_gap_s = args.min_gap_ms / 1000 * speed
    cpu0, wall0 = time.process_time(), time.perf_counter()
    task = asyncio.create_task(timers.run())
    expected = args.rooms * 11
    deadline = time.perf_counter() + args.scaled_s + args.stagger_s + 60
    made = 0
    while time.perf_counter() < deadline:
        await asyncio.sleep(1.0)
        async with sessions() as s:
            made = (await s.execute(text("SELECT count(*) FROM mock_announcement"))).scalar() or 0
        if made >= expected:
            break
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    async with sessions() as s:
        made_rows = (await s.execute(select(MockAnnouncement))).scalars().all()
    await engine.dispose()
    sent = [a for a in made_rows if a.status == "sent"]
    lateness_ms = [(a.sent_at - a.due_at).total_seconds() / speed * 1000 for a in sent]
    keys = {(a.room_id, a.key) for a in made_rows}
    return {
        "database": "postgresql" if schema else "sqlite",
        "rooms": args.rooms,
        "scaled_timeline_s": args.scaled_s,
        "speed": round(speed, 2),
        "stagger_s": args.stagger_s,
        "in_flight": args.in_flight,
        "min_gap_ms": args.min_gap_ms,
        "announcements": len(sent),
        "expected": expected,
        "duplicates": len(made_rows) - len(keys),
        "lateness_ms": {
            "p50": round(percentile(lateness_ms, 50), 1),
            "p99": round(percentile(lateness_ms, 99), 1),
            "max": round(max(lateness_ms, default=float("nan")), 1),
        },
        "target_p99_ms": TARGET_P99_MS,
        "p99_vs_target": round(percentile(lateness_ms, 99) / TARGET_P99_MS, 2),
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_room": round(cpu * 1000 / args.rooms, 2),
        "cpu_share_of_one_core": round(cpu / wall, 2),
        "platform_calls": platform.calls,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }


def main() -> None:
    """Parse the options, run the bench, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--scaled-s", type=float, default=90.0, help="45 minutes become this")
    parser.add_argument("--stagger-s", type=float, default=10.0, help="starts spread over this")
    parser.add_argument("--platform-ms", type=float, default=5.0)
    parser.add_argument("--in-flight", type=int, default=16, help="rooms said at once")
    parser.add_argument(
        "--min-gap-ms", type=float, default=0.0, help="real ms at least between two looks"
    )
    parser.add_argument("--tick-s", type=float, default=0.05, help="real seconds between looks")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (a private schema is used)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with scratch_database(args.pg) as (db_url, schema):
        result = asyncio.run(run(args, db_url, schema))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
