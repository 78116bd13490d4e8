"""Measure the bot's own overhead per solo-mock interviewer turn, and the tokens per mock.

Whole solo mocks run with the simulated candidate of `studybot mock demo --solo` on a fast
clock, against the local scripted OpenAI-compatible server (tests/support/openai_server.py),
which answers like a brief interviewer after `--llm-ms` milliseconds and reports token usage
from the prompt's size. For each `/mock say` the bench times the whole use case (store the
line, build the prompt, call the model, check the reply with the sentence encoder, store the
answer) and subtracts the time spent waiting for the model: what is left is StudyBot's
overhead. Goal: p95 under 150 ms.

    .venv/bin/python bench/solo_mock.py --mocks 3
    .venv/bin/python bench/solo_mock.py --mocks 3 --pg postgresql+asyncpg://postgres@127.0.0.1/x
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.scratch_database import scratch_database  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.domain.claims import ClaimPolicy  # noqa: E402
from bot.mock_demo import SOLO_CANDIDATE, QuietPublisher  # noqa: E402
from bot.services.cohorts import CohortService  # noqa: E402
from bot.services.context import Actor  # noqa: E402
from bot.services.mocks import MockService  # noqa: E402
from bot.services.solo_mocks import SoloMocks  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from content import load_library  # noqa: E402
from graders.embeddings import default_embedder  # noqa: E402
from graders.interviewer import (  # noqa: E402
    GuardedInterviewer,
    InterviewerReply,
    LLMInterviewer,
    ScriptedInterviewer,
    Spend,
    TurnContext,
)
from graders.llm import LLMConfig  # noqa: E402
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply  # noqa: E402

TARGET_P95_MS = 150.0
QUESTIONS = (
    "Good. Which number would tell you that part is working?",
    "What does that choice cost you?",
    "How would you know it failed, and what would the user see?",
    "Which part of that would you build first, and why?",
)


def brief_interviewer(delay_s: float) -> Any:
    """A model that answers with a short interviewer question, usage from the prompt's size."""

    def respond(request: RecordedRequest) -> Reply:
        prompt = sum(len(str(m.get("content", ""))) for m in request.messages) // 4
        text = QUESTIONS[len(request.messages) % len(QUESTIONS)]
        reply = Reply.chat(text, prompt_tokens=prompt, completion_tokens=len(text) // 4)
        return Reply(status=reply.status, body=reply.body, delay_s=delay_s)

    return respond


class TimedEngine(GuardedInterviewer):
    """The guarded engine, remembering how long each reply waited for the model."""

    waits: list[float]

    async def reply(self, ctx: TurnContext, spend: Spend | None = None) -> InterviewerReply:
        """Answer and keep the model's time."""
        answer = await super().reply(ctx, spend)
        self.waits.append(answer.llm_s)
        return answer


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


async def run(args: argparse.Namespace, db_url: str, schema: str | None) -> dict[str, Any]:
    """Run the mocks and measure."""
    server = OpenAIServer().start()
    server.respond_with(brief_interviewer(args.llm_ms / 1000))
    engine = make_engine(db_url, schema=schema)
    sessions = make_session_factory(engine)
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    clock = FakeClock(start)
    if args.torch_threads:
        import torch

        # On a shared, oversubscribed machine torch's own thread pool fights the other
        # processes for the cores; one thread encodes a few sentences an order faster here.
        torch.set_num_threads(args.torch_threads)
    embedder = default_embedder()
    embedder.encode(["warm up"])  # the encoder's load is not a turn's overhead
    config = LLMConfig(base_url=server.base_url, model="scripted-model", timeout_s=10)
    timed = TimedEngine(ScriptedInterviewer(embedder), embedder, llm=LLMInterviewer(config))
    timed.waits = []
    mocks = MockService(
        sessions,
        load_library(),
        clock,
        {"console": QuietPublisher()},
        holder="bench",
        policy=ClaimPolicy(lease_s=60),
    )
    solo = SoloMocks(mocks, timed, embedder, token_cap=10**9)
    cohorts = CohortService(sessions, clock)
    admin = Actor("console", "w", "c", "U-admin", "Admin", is_workspace_admin=True)
    await cohorts.setup(admin, name="bench")
    overheads: list[float] = []
    tokens: list[int] = []
    engines: dict[str, int] = {}
    try:
        for m in range(args.mocks):
            member = Actor("console", "w", "c", f"U{m}", f"M{m}")
            await cohorts.join(member)
            clock.set(start + timedelta(hours=m))
            view = await solo.start(member, "guide:ml-serving")
            in_room = Actor("console", "w", f"mock-{view.room_id}", member.user_id, "M")
            began = clock.now()
            lines = list(SOLO_CANDIDATE)
            while True:
                await mocks.announce_due()
                minute = (clock.now() - began).total_seconds() / 60
                while lines and lines[0][0] <= minute:
                    before = len(timed.waits)
                    t0 = time.perf_counter()
                    await solo.say(in_room, lines.pop(0)[1])
                    wall = time.perf_counter() - t0
                    waited = sum(timed.waits[before:])
                    overheads.append((wall - waited) * 1000)
                if minute > 46:
                    break
                clock.advance(15)
            turns = await solo.transcript(view.room_id)
            tokens.append(sum(t.tokens for t in turns))
            for t in turns:
                if t.speaker == "interviewer" and t.key.startswith("r:"):
                    engines[t.engine] = engines.get(t.engine, 0) + 1
    finally:
        server.close()
        await engine.dispose()
    return {
        "database": "postgresql" if schema else "sqlite",
        "mocks": args.mocks,
        "torch_threads": args.torch_threads or "default",
        "turns": len(overheads),
        "llm_delay_ms": args.llm_ms,
        "overhead_ms_per_turn": {
            "p50": round(percentile(overheads, 50), 1),
            "p95": round(percentile(overheads, 95), 1),
            "max": round(max(overheads, default=float("nan")), 1),
        },
        "target_p95_ms": TARGET_P95_MS,
        "p95_vs_target": round(percentile(overheads, 95) / TARGET_P95_MS, 2),
        "tokens_per_mock": round(sum(tokens) / max(1, len(tokens))),
        "replies_by_engine": engines,
        "model_requests": len(server.chat_requests),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cores": os.cpu_count(),
    }


def main() -> None:
    """Parse the options, run the bench, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mocks", type=int, default=3)
    parser.add_argument("--llm-ms", type=float, default=50.0, help="the model's answer time")
    parser.add_argument("--torch-threads", type=int, default=0, help="0: torch's default")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (a private schema is used)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with scratch_database(args.pg) as (db_url, schema):
        result = asyncio.run(run(args, db_url, schema))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
