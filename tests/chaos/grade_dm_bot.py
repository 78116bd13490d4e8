"""A bot process that only tells members the grades no reply showed, for the paused-process proof.

It runs the production teller pass (AnswerService.tell_untold through the real SlackPublisher,
under the fenced teller claim, with the process heartbeat) on answers already graded and not yet
told; nothing is graded here. It prints READY once its heartbeat is registered, then one JSON
line per pass, until SIGTERM:

    python -m tests.chaos.grade_dm_bot --db-url URL --schema S --slack-url URL --process-id A
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
from bot.services.answers import AnswerService
from bot.store.engine import make_engine, make_session_factory

TOKEN = "xoxb-test-token"


class NoGraders:
    """Refuse to grade: every answer here is already graded (the GraderSource port)."""

    def for_cohort(self, cohort_id: int | None) -> Any:
        raise AssertionError("no answer should be graded in this proof")


async def serve(args: argparse.Namespace) -> None:
    """Beat and tell until SIGTERM."""
    from content import load_library

    clock = SystemClock()
    engine = make_engine(args.db_url, schema=args.schema)
    sessions = make_session_factory(engine)
    client = AsyncWebClient(token=TOKEN, base_url=args.slack_url, retry_handlers=[])
    publisher = SlackPublisher(client, channel_interval_s=0)
    policy = ClaimPolicy(lease_s=args.lease, heartbeat_interval_s=args.heartbeat)
    answers = AnswerService(
        sessions,
        load_library(),
        clock,
        NoGraders(),
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
            told = await answers.tell_untold(min_age=timedelta(0))
            print(json.dumps({"told": told}), flush=True)
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
