"""Grade many answers at once with a slow grader, and see what the database pool allows.

The grader stands for an LLM that answers after --grader-ms. While it runs, the answer service
holds no database connection, so grading is bounded by the grader, not by the pool: the wall
time stays near one grader call however many answers there are. A service that held a
connection across the call could grade only as many answers at once as the pool has
connections (5 + 10 overflow), so it could not finish faster than ceil(answers / 15) grader
calls. The bench prints the wall time, its ratio to one grader call, that pool-bound time,
and checks that every answer got exactly one grade and one points event.

    .venv/bin/python bench/answer_grading.py --answers 60 --grader-ms 500
    .venv/bin/python bench/answer_grading.py --pg postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bench.scratch_database import scratch_database  # noqa: E402
from bot.clock import FakeClock  # noqa: E402
from bot.services.answers import AnswerService  # noqa: E402
from bot.services.context import Actor  # noqa: E402
from bot.store.engine import make_engine, make_session_factory  # noqa: E402
from bot.store.models import Cohort, Grade, Member, PointsEvent  # noqa: E402
from content import load_library  # noqa: E402
from graders import Grade as GraderGrade  # noqa: E402
from graders import PointGrade, RubricQuestion  # noqa: E402

ANSWER = (
    "Adam keeps two moments, m and v, in FP32: 8 bytes per parameter on top of the weights and "
    "gradients. For a 7B model that is 56 GB of optimizer state."
)


class SlowGrader:
    """A grader that takes a while (an LLM call)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def grade(self, question: RubricQuestion, answer: str) -> GraderGrade:
        await asyncio.sleep(self.seconds)
        points = [
            PointGrade(rubric=p, verdict="covered", decided_by="llm") for p in question.rubric
        ]
        return GraderGrade(
            question_id=question.id, score=0.8, points=points, feedback="", grader="llm"
        )

    def for_cohort(self, cohort_id: int | None) -> SlowGrader:
        """Serve as the grader source too."""
        return self

    def __call__(self, budget_key: str) -> SlowGrader:
        """Serve as a grader factory, for comparing with services that take one."""
        return self


async def run(args: argparse.Namespace, db_url: str, schema: str | None) -> dict[str, Any]:
    """Submit the answers, grade them all at once, and measure."""
    engine = make_engine(db_url, schema=schema)
    sessions = make_session_factory(engine)
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    grader = SlowGrader(args.grader_ms / 1000)
    service = AnswerService(sessions, load_library(), clock, grader)
    async with sessions() as session:
        cohort = Cohort(
            name="bench",
            platform="slack",
            workspace_id="T",
            channel_id="C",
            start_date=date(2026, 12, 1),
        )
        session.add(cohort)
        await session.flush()
        assert cohort.id is not None
        session.add_all(
            Member(cohort_id=cohort.id, platform_user_id=f"U{i}", display_name=f"M{i}")
            for i in range(args.answers)
        )
        await session.commit()
    ids = []
    for i in range(args.answers):
        answer = await service.submit(Actor("slack", "T", "C", f"U{i}", f"M{i}"), "E1-005", ANSWER)
        ids.append(answer.id)
    started = time.perf_counter()
    await asyncio.gather(*(service.grade(i) for i in ids))
    wall = time.perf_counter() - started
    async with sessions() as session:
        grades = (await session.execute(select(func.count()).select_from(Grade))).scalar()
        points = (await session.execute(select(func.count()).select_from(PointsEvent))).scalar()
    pool = engine.pool.size() + engine.pool._max_overflow  # type: ignore[attr-defined]
    await engine.dispose()
    grader_s = args.grader_ms / 1000
    return {
        "database": "postgresql" if schema else "sqlite",
        "answers": args.answers,
        "grader_s": grader_s,
        "pool_connections": pool,
        "wall_s": round(wall, 3),
        "ratio_to_one_grader_call": round(wall / grader_s, 2),
        "pool_bound_if_held_s": -(-args.answers // pool) * grader_s,
        "grades": grades,
        "points_events": points,
        "exactly_once": grades == points == args.answers,
    }


def main() -> None:
    """Parse the arguments, prepare a database, run and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=150)
    parser.add_argument("--grader-ms", type=float, default=500.0)
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (a private schema is used)")
    args = parser.parse_args()
    with scratch_database(args.pg) as (db_url, schema):
        print(json.dumps(asyncio.run(run(args, db_url, schema)), indent=2))


if __name__ == "__main__":
    main()
