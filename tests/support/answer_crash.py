"""A bot process that grades one answer and stops dead between storing the grade and its points.

Run by the crash-window test, which kills it there with SIGKILL:
`python -m tests.support.answer_crash DB_URL SCHEMA|- ANSWER_ID`.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from bot.clock import SystemClock
from bot.services.answers import AnswerService
from bot.store import answers as repo
from bot.store.engine import make_engine, make_session_factory
from content import load_library
from graders import Grade, PointGrade, RubricQuestion


class FixedGrader:
    """Grades every answer 0.8, every point covered."""

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        points = [
            PointGrade(rubric=p, verdict="covered", decided_by="offline") for p in question.rubric
        ]
        return Grade(
            question_id=question.id, score=0.8, points=points, feedback="", grader="offline"
        )


class Graders:
    """The grader source of this process."""

    def for_cohort(self, cohort_id: int | None) -> FixedGrader:
        return FixedGrader()


async def main(url: str, schema: str | None, answer_id: int) -> None:
    engine = make_engine(url, schema=schema)

    async def stop_between_grade_and_points(session: Any, **kwargs: Any) -> bool:
        # The grade and the status are written in this transaction; the points come next.
        print("between grade and points", flush=True)
        await asyncio.Event().wait()
        return False

    repo.award_points = stop_between_grade_and_points  # type: ignore[assignment]
    service = AnswerService(make_session_factory(engine), load_library(), SystemClock(), Graders())
    await service.grade(answer_id)


if __name__ == "__main__":
    db_url, db_schema, answer = sys.argv[1:4]
    asyncio.run(main(db_url, None if db_schema == "-" else db_schema, int(answer)))
