"""The cascade: the offline grader first, the LLM only for the points it is unsure of."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

from graders.budget import TokenBudget
from graders.llm import (
    AnswerChecks,
    CallContext,
    Deadline,
    FormatState,
    LLMConfig,
    decide_with_llm,
    offline_point,
)
from graders.models import (
    Grade,
    GradingDelayed,
    RubricQuestion,
    rubric_notices,
    score_points,
    summarise,
)
from graders.offline import (
    BEHAVIORAL_NOTICE,
    GRADER_TALK_NOTICE,
    NON_ENGLISH_NOTICE,
    UNRELIABLE_KINDS,
    OfflineGrader,
)
from graders.text import check_gradable


class CascadeGrader:
    """Keeps offline verdicts that clear a threshold by a margin; sends the rest to the LLM.

    One LLM call per answer at most, and none when the offline grader is sure of every point.
    """

    name = "cascade"

    def __init__(
        self,
        config: LLMConfig,
        *,
        offline: OfflineGrader | None = None,
        budget: TokenBudget | None = None,
        budget_key: str = "default",
        rng: random.Random | None = None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.offline = offline or OfflineGrader()
        self.budget = budget
        self.budget_key = budget_key
        self._rng = rng
        self._now = now
        self.formats = FormatState(config.response_format)
        self.checks = AnswerChecks(config, self.offline)

    @property
    def cache_identity(self) -> str:
        """Return what this grader's grades depend on besides the question and the answer."""
        return f"cascade|{self.config.cache_identity}"

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        """Grade offline, then ask the LLM about the uncertain points only.

        Raises GradingDelayed when the deadline passes first.
        """
        check_gradable(question, answer)
        started = time.perf_counter()
        ctx = CallContext(
            deadline=Deadline.after(self.config.deadline_s, self._now),
            formats=self.formats,
            rng=self._rng or random.Random(),
            budget=self.budget,
            budget_key=self.budget_key,
        )
        try:
            async with asyncio.timeout(ctx.deadline.remaining()):
                talk = await self.checks.grader_talk(answer, ctx)
                assessment = await self.checks.assess(question, answer, talk)
                margin = self.offline.clear_margin
                uncertain = [i for i, p in enumerate(assessment.points) if p.margin < margin]
                decision = await decide_with_llm(
                    self.config,
                    self.offline,
                    question,
                    answer,
                    uncertain,
                    assessment=assessment,
                    talk=talk,
                    ctx=ctx,
                )
        except TimeoutError:
            raise GradingDelayed() from None
        points = [
            decision.points.get(i) or offline_point(rubric, assessment, i)
            for i, rubric in enumerate(question.rubric)
        ]
        notices = list(decision.notices)
        if decision.failed and assessment.non_english:
            notices.append(NON_ENGLISH_NOTICE)
        if decision.failed and question.kind in UNRELIABLE_KINDS:
            notices.append(BEHAVIORAL_NOTICE)
        if assessment.grader_talk:
            notices.append(GRADER_TALK_NOTICE)
        return Grade(
            question_id=question.id,
            score=score_points(points),
            points=points,
            feedback=summarise(points),
            grader="cascade",
            tokens_used=ctx.tokens,
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            notices=notices + rubric_notices(question),
            downgraded_points=decision.downgraded,
            rubric_drafted=question.rubric_drafted,
            llm_points=0 if decision.failed else len(uncertain),
            degraded=decision.failed and not decision.by_policy,
            provisional_points=decision.provisional,
        )
