"""A bot process that only posts weekly recaps to Slack: for tests that pause and race.

It registers its heartbeat, then runs `RecapService.publish_due` every tick against the real
SlackPublisher, printing one JSON line per pass on stdout (READY first), until it is stopped:

    python -m tests.support.recap_bot --db-url postgresql+asyncpg://... --schema s1 \\
        --slack-url http://127.0.0.1:PORT/api/ --process-id A --tick 0.2 --heartbeat 0.3 --lease 2
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import SystemClock
from bot.domain.claims import ClaimPolicy
from bot.heartbeat import Heartbeat
from bot.platforms.slack_app import SlackPublisher
from bot.services.recap import RecapService
from bot.services.standings import StandingsService
from bot.store.engine import make_engine, make_session_factory

TOKEN = "xoxb-test-token"


async def serve(args: argparse.Namespace) -> None:
    """Beat and post recaps until SIGTERM."""
    from content import load_library

    clock = SystemClock()
    engine = make_engine(args.db_url, schema=args.schema)
    sessions = make_session_factory(engine)
    client = AsyncWebClient(token=TOKEN, base_url=args.slack_url, retry_handlers=[])
    publisher = SlackPublisher(client, channel_interval_s=0)
    policy = ClaimPolicy(lease_s=args.lease, heartbeat_interval_s=args.heartbeat)
    recaps = RecapService(
        sessions,
        clock,
        StandingsService(sessions, clock, load_library()),
        {"slack": publisher},
        holder=args.process_id,
        policy=policy,
        charts=False,
    )
    heartbeat = await Heartbeat(
        sessions, clock, process_id=args.process_id, interval_s=args.heartbeat
    ).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    passes = 0
    try:
        while not stop.is_set():
            report = await recaps.publish_due(clock.now())
            passes += 1
            line = {
                "pass": passes,
                "posted": report.posted,
                "lost": report.lost,
                "busy": report.busy,
                "failed": report.failed,
            }
            print(json.dumps(line), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.tick)
            except TimeoutError:
                pass
    finally:
        await heartbeat.stop()
        await publisher.aclose()
        await engine.dispose()


def main() -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--db-url", required=True)
    parser.add_argument("--schema", default=None)
    parser.add_argument("--slack-url", required=True)
    parser.add_argument("--process-id", required=True)
    parser.add_argument("--tick", type=float, default=0.2)
    parser.add_argument("--heartbeat", type=float, default=0.3)
    parser.add_argument("--lease", type=float, default=2.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
