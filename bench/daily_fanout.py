"""Post day N to many Slack cohorts at once through the mock Slack Web API, and time it.

The mock server runs in its own process and holds every channel to one chat.postMessage a
second, as Slack does. Channels are independent, so the lower bound of the wall time is
(messages per cohort - 1) seconds, however many cohorts there are; the bench reports how close
the fan-out gets to it, and the bot process's CPU time per cohort. Every post goes through the
fenced claim (a fence before each send, a fenced record after it), as in production; the
targets are 1.5 x the lower bound and 8 ms of bot CPU per cohort. The machine's load average
is printed too: on a shared machine the wall time measures the neighbours as much as the bot.

    .venv/bin/python bench/daily_fanout.py --cohorts 1000 --day 97
    .venv/bin/python bench/daily_fanout.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bench.scratch_database import scratch_database  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.messages import Channel, Message  # noqa: E402
from bot.platforms.slack_app import SlackPublisher  # noqa: E402
from bot.services.daily import DailyService, PublishReport  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from bot.store.models import Cohort  # noqa: E402

TOKEN = "xoxb-test-token"


def start_mock(interval: float, fractional: bool) -> tuple[subprocess.Popen[str], str]:
    """Start the mock Slack Web API in its own process; return it and its base URL."""
    cmd = [
        sys.executable,
        "-m",
        "tests.support.slack_api_server",
        "--port",
        "0",
        "--channel-interval",
        str(interval),
    ]
    if fractional:
        cmd.append("--fractional-retry-after")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("READY "):
        proc.kill()
        raise SystemExit(f"mock Slack server did not start: {line!r}")
    return proc, line.split(" ", 1)[1]


async def seed_cohorts(sessions: Any, count: int, day: int, due: datetime) -> None:
    """Create `count` Slack cohorts whose day `day` is due at `due`."""
    start = due.date() - timedelta(days=day - 1)
    async with sessions() as session:
        session.add_all(
            Cohort(
                name=f"Cohort {i}",
                platform="slack",
                workspace_id="T0BENCH01",
                channel_id=f"C{i:08d}",
                timezone="UTC",
                post_time=dtime(due.hour, due.minute),
                start_date=start,
            )
            for i in range(count)
        )
        await session.commit()


async def fetch_stats(base_url: str) -> dict[str, Any]:
    """Ask the mock server what it saw."""
    url = base_url.replace("/api/", "/_mock/stats")
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        stats: dict[str, Any] = await response.json()
        return stats


async def post_without_service(
    publisher: SlackPublisher, messages: list[Message], cohorts: int, day: int
) -> PublishReport:
    """Send the same posts straight through the publisher: the Slack face's own cost."""
    report = PublishReport()

    async def one(index: int) -> None:
        channel = Channel("slack", "T0BENCH01", f"C{index:08d}")
        for message in messages:
            await publisher.post(
                channel, message, idempotency_key=f"studybot:{index}:{day}:{message.key}"
            )
        report.posted.append((index, day))

    await asyncio.gather(*(one(i) for i in range(cohorts)))
    return report


async def run(args: argparse.Namespace, db_url: str, schema: str | None) -> dict[str, Any]:
    """Seed, fan out, measure."""
    from content import load_library

    library = load_library()
    engine = make_engine(db_url, schema=schema)
    sessions = make_session_factory(engine)
    due = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    await seed_cohorts(sessions, args.cohorts, args.day, due)
    proc, base_url = start_mock(args.interval, args.fractional_retry_after)
    client = AsyncWebClient(token=TOKEN, base_url=base_url, retry_handlers=[])
    publisher = SlackPublisher(
        client, channel_interval_s=args.interval, connection_limit=args.connections
    )
    service = DailyService(
        sessions,
        library,
        {"slack": publisher},
        clock=SystemClock(),
        concurrency=args.concurrency,
    )
    messages = service.compose_day(args.day)
    parts = len(messages)
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if args.publisher_only:
            report = await post_without_service(publisher, messages, args.cohorts, args.day)
        else:
            report = await service.publish_due(due + timedelta(minutes=1))
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        stats = await fetch_stats(base_url)
    finally:
        await publisher.aclose()
        proc.terminate()
        proc.wait(timeout=10)
        await engine.dispose()
    bound = (parts - 1) * args.interval
    return {
        "backend": "none (publisher only)"
        if args.publisher_only
        else ("postgresql" if schema else "sqlite"),
        "cohorts": args.cohorts,
        "day": args.day,
        "messages_per_cohort": parts,
        "posted": len(report.posted),
        "deferred": len(report.deferred),
        "failed": len(report.failed),
        "messages_seen_by_slack": stats["messages"],
        "min_max_per_channel": [stats["min_per_channel"], stats["max_per_channel"]],
        "ratelimited_answers": stats["rate_limited"],
        "api_calls": stats["calls"],
        "wall_s": round(wall, 2),
        "lower_bound_s": round(bound, 2),
        "wall_over_bound": round(wall / bound, 3) if bound else None,
        "cpu_s": round(cpu, 2),
        "cpu_ms_per_cohort": round(cpu * 1000 / args.cohorts, 2),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def main() -> None:
    """Parse options, prepare a database, run the fan-out, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cohorts", type=int, default=1000)
    parser.add_argument("--day", type=int, default=2, help="day 2: 6 messages; day 97: 21")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between posts")
    parser.add_argument(
        "--concurrency", type=int, default=10_000, help="cohorts in flight (DailyService default)"
    )
    parser.add_argument("--connections", type=int, default=100, help="HTTP connections")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (a private schema is used)")
    parser.add_argument("--fractional-retry-after", action="store_true")
    parser.add_argument(
        "--publisher-only",
        action="store_true",
        help="post through SlackPublisher alone (no claims, no database writes)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # each retry is logged as a warning; the bench counts them instead
    logging.getLogger("bot.services.daily").setLevel(logging.ERROR)

    with scratch_database(args.pg) as (db_url, schema):
        result = asyncio.run(run(args, db_url, schema))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"day {result['day']} to {result['cohorts']} Slack cohorts ({result['backend']}), "
        f"{result['messages_per_cohort']} messages each, 1 message/s/channel"
    )
    print(
        f"  posted {result['posted']}, deferred {result['deferred']}, failed {result['failed']}; "
        f"Slack saw {result['messages_seen_by_slack']} messages "
        f"({result['min_max_per_channel'][0]}-{result['min_max_per_channel'][1]} per channel), "
        f"{result['ratelimited_answers']} answered 429"
    )
    print(
        f"  wall {result['wall_s']:.2f} s vs lower bound {result['lower_bound_s']:.2f} s "
        f"(x{result['wall_over_bound']})"
    )
    print(f"  CPU {result['cpu_s']:.2f} s = {result['cpu_ms_per_cohort']:.2f} ms per cohort")
    ratio = result["wall_over_bound"]
    print(
        f"  targets: wall <= x1.5 ({'met' if ratio is not None and ratio <= 1.5 else 'missed'}), "
        f"CPU <= 8 ms per cohort ({'met' if result['cpu_ms_per_cohort'] <= 8 else 'missed'}); "
        f"load average {result['load_average']}"
    )


if __name__ == "__main__":
    main()
