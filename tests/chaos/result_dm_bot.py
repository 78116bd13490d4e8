"""A bot process that only tells members their drill results, for the paused-process proof.

It runs the production reconciler (SubmissionService.reconcile through the real SlackPublisher,
under the fenced reconciler claim, with the process heartbeat) on submissions already judged and
not yet told; no submission is queued, so no runner is ever asked. It prints READY once its
heartbeat is registered, then one JSON line per pass, until SIGTERM:

    python -m tests.chaos.result_dm_bot --db-url URL --schema S --slack-url URL --process-id A
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import SystemClock
from bot.domain.claims import ClaimPolicy
from bot.heartbeat import Heartbeat
from bot.platforms.slack_app import SlackPublisher
from bot.services.submissions import SubmissionService
from bot.store.engine import make_engine, make_session_factory

TOKEN = "xoxb-test-token"


def no_runner() -> Any:
    """Refuse to build a runner: every submission here is already judged."""
    raise AssertionError("no submission should be queued in this proof")


async def serve(args: argparse.Namespace) -> None:
    """Beat and reconcile until SIGTERM."""
    clock = SystemClock()
    engine = make_engine(args.db_url, schema=args.schema)
    sessions = make_session_factory(engine)
    client = AsyncWebClient(token=TOKEN, base_url=args.slack_url, retry_handlers=[])
    publisher = SlackPublisher(client, channel_interval_s=0)
    policy = ClaimPolicy(lease_s=args.lease, heartbeat_interval_s=args.heartbeat)
    submissions = SubmissionService(
        sessions,
        clock,
        no_runner,
        publishers={"slack": publisher},
        holder=args.process_id,
        policy=policy,
    )
    heartbeat = await Heartbeat(
        sessions, clock, process_id=args.process_id, interval_s=args.heartbeat
    ).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)
    try:
        while not stop.is_set():
            report = await submissions.reconcile(min_age=timedelta(0))
            line = {"claimed": report.claimed, "notified": report.notified}
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
