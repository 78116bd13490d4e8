"""A bot process for the crash proof: posts the due day to Slack and grades pending answers.

It is the production code path (DailyService.publish_due through the real SlackPublisher,
AnswerService.retry_pending with grades told by DM, with --runner-url the submission reconciler
dispatching to and collecting from Celery workers, the process heartbeat) with one stand-in:
a grader that takes a few milliseconds and grades every rubric point covered, like an LLM that
always answers. It loops until SIGTERM (or SIGKILL, which is the point), printing READY first and
one JSON line per pass (with --wait-for-go it prints WARM and waits for a line on stdin):

    python -m tests.chaos.chaos_bot --db-url URL --schema S --slack-url URL --process-id A
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import SystemClock
from bot.domain.claims import ClaimPolicy
from bot.heartbeat import Heartbeat
from bot.platforms.slack_app import SlackPublisher
from bot.services.answers import AnswerService
from bot.services.daily import DailyService
from bot.services.submissions import SubmissionService
from bot.store.engine import make_engine, make_session_factory
from graders import Grade, PointGrade, RubricQuestion

TOKEN = "xoxb-test-token"


class SteadyGrader:
    """Grades every point covered after a short think (a window for a kill mid-grade)."""

    def __init__(self, think_s: float) -> None:
        self._think_s = think_s

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        """Grade one answer."""
        await asyncio.sleep(self._think_s)
        points = [
            PointGrade(rubric=p, verdict="covered", decided_by="offline") for p in question.rubric
        ]
        return Grade(
            question_id=question.id, score=1.0, points=points, feedback="", grader="offline"
        )

    def for_cohort(self, cohort_id: int | None) -> SteadyGrader:
        """Return this grader for any cohort."""
        return self


async def serve(args: argparse.Namespace) -> None:
    """Beat, post and grade until SIGTERM."""
    from content import load_library

    clock = SystemClock()
    library = load_library()
    engine = make_engine(args.db_url, schema=args.schema)
    sessions = make_session_factory(engine)
    client = AsyncWebClient(token=TOKEN, base_url=args.slack_url, retry_handlers=[])
    publisher = SlackPublisher(client, channel_interval_s=0)
    publishers = {"slack": publisher}
    policy = ClaimPolicy(lease_s=args.lease, heartbeat_interval_s=args.heartbeat)
    daily = DailyService(
        sessions, library, publishers, clock=clock, holder=args.process_id, policy=policy
    )
    answers = AnswerService(
        sessions,
        library,
        clock,
        SteadyGrader(args.think),
        publishers=publishers,
        holder=daily.holder,
        policy=policy,
    )
    if args.wait_for_go:
        # A warm spare: imports and set-up done, it starts serving when told (on stdin), so a
        # restart measures the bot's own recovery and not the interpreter's start-up.
        print("WARM", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    heartbeat = await Heartbeat(
        sessions, clock, process_id=daily.holder, interval_s=args.heartbeat
    ).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("READY", flush=True)

    async def grading() -> None:
        while not stop.is_set():
            graded = await answers.retry_pending(min_age=timedelta(0))
            print(json.dumps({"graded": graded}), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.tick)
            except TimeoutError:
                pass

    async def reconciling(runner_url: str) -> None:
        from gpu_runner.celery_runner import CeleryRunnerClient, RunnerNodeSettings

        node = RunnerNodeSettings(
            redis_url=runner_url, visibility_timeout_s=3, restore_interval_s=0.5
        )
        submissions = SubmissionService(
            sessions,
            clock,
            CeleryRunnerClient(node, poll_s=0.05),
            publishers=publishers,
            timing=False,  # judged for correctness only: fast and without timing noise
            max_dispatches=10,
            holder=daily.holder,
            policy=policy,
        )
        while not stop.is_set():
            report = await submissions.reconcile(min_age=timedelta(0))
            print(json.dumps({"reconciled": str(report)}), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.tick)
            except TimeoutError:
                pass

    grader = asyncio.create_task(grading())
    reconciler = asyncio.create_task(reconciling(args.runner_url)) if args.runner_url else None
    try:
        while not stop.is_set():
            report = await daily.publish_due(clock.now())
            line = {"posted": report.posted, "failed": report.failed, "lost": report.lost}
            print(json.dumps(line), flush=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=args.tick)
            except TimeoutError:
                pass
    finally:
        grader.cancel()
        if reconciler is not None:
            reconciler.cancel()
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
    # Fast, so a killed bot's work is taken over within seconds, yet slow enough that a healthy
    # bot starved of CPU on a busy two-core machine (a spare warming up beside it) is not taken
    # for dead between its fence check and its send: at 0.3 s (taken over after 0.9 s) a starved
    # process in the two-process round posted four parts twice (once in CI, and 1 run in 3 with
    # two CPU burners beside it); at 0.6 s, none in 3 (2 of them with the burners).
    parser.add_argument("--heartbeat", type=float, default=0.6)
    parser.add_argument("--lease", type=float, default=120.0)
    parser.add_argument("--think", type=float, default=0.02)
    parser.add_argument("--wait-for-go", action="store_true")
    parser.add_argument("--runner-url", default=None, help="Celery broker: reconcile submissions")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(name)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
