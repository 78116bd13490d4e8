"""The cascade: offline first, the LLM only for uncertain points, caches and budgets."""

from __future__ import annotations

from typing import Any

import pytest

from graders.budget import MemoryTokenBudget
from graders.cache import CachedGrader, MemoryGradeCache
from graders.cascade import CascadeGrader
from graders.llm import BUDGET_NOTICE, LLM_UNAVAILABLE_NOTICE, LLMConfig
from graders.offline import NON_ENGLISH_NOTICE, OfflineGrader
from tests.graders.samples import ADAMW, STRONG_ADAMW
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply

# Clear on points 1 and 2 (the figures are there), uncertain on 3 (decay, said loosely).
MIXED = (
    "Adam keeps two extra tensors for every weight: the first moment m and the second moment v. "
    "Both are kept in fp32, so that is 8 extra bytes per parameter on top of the weights and the "
    "gradients. For a 7B model that is 7e9 × 8 bytes ≈ 56 GB of optimizer state alone. "
    "AdamW changes how weight decay is applied."
)


def config_for(server: OpenAIServer) -> LLMConfig:
    return LLMConfig(
        base_url=server.base_url, model="m", timeout_s=2, max_retries=1, backoff_base_s=0.01
    )


def echo_llm(verdict: str) -> Any:
    """An LLM that gives one verdict to every point it is asked about, quoting the last sentence."""

    def respond(request: RecordedRequest) -> Reply:
        numbers = request.point_ids()
        return Reply.chat_json(
            {
                "points": [
                    {
                        "point": n,
                        "reasoning": "r",
                        "verdict": verdict,
                        "evidence": "AdamW changes how weight decay is applied.",
                        "comment": "c",
                    }
                    for n in numbers
                ]
            }
        )

    return respond


def asked_points(request: RecordedRequest) -> list[int]:
    return sorted(request.point_ids())


@pytest.fixture
def cascade(openai_server: OpenAIServer, offline_grader: OfflineGrader) -> CascadeGrader:
    return CascadeGrader(config_for(openai_server), offline=offline_grader)


async def test_only_uncertain_points_go_to_the_llm(
    openai_server: OpenAIServer, cascade: CascadeGrader, offline_grader: OfflineGrader
) -> None:
    openai_server.respond_with(echo_llm("partial"))
    assessment = offline_grader.assess(ADAMW, MIXED)
    margin = offline_grader.clear_margin
    uncertain = [i + 1 for i, p in enumerate(assessment.points) if p.margin < margin]
    assert uncertain and len(uncertain) < 3

    grade = await cascade.grade(ADAMW, MIXED)
    (request,) = openai_server.chat_requests
    assert asked_points(request) == uncertain
    for index, point in enumerate(grade.points, start=1):
        if index in uncertain:
            assert point.decided_by == "llm" and point.verdict == "partial"
        else:
            assert point.decided_by == "offline"
            assert point.verdict == assessment.points[index - 1].verdict
    assert grade.grader == "cascade" and grade.llm_points == len(uncertain)
    assert grade.tokens_used == 180


async def test_no_call_when_the_offline_grader_is_sure_of_everything(
    openai_server: OpenAIServer, cascade: CascadeGrader
) -> None:
    answer = "Kafka orders messages within a partition; consumer groups share the partitions."
    grade = await cascade.grade(ADAMW, answer)
    assert openai_server.chat_requests == []
    assert grade.tokens_used == 0 and grade.llm_points == 0
    assert [p.verdict for p in grade.points] == ["missing"] * 3


async def test_non_english_answers_go_to_the_llm_entirely(
    openai_server: OpenAIServer, cascade: CascadeGrader
) -> None:
    openai_server.respond_with(Reply.server_error())
    spanish = (
        "Adam guarda dos momentos por parámetro en FP32, es decir 8 bytes por parámetro además "
        "de los pesos y los gradientes; para un modelo de 7B son 56 GB solo de estado."
    )
    grade = await cascade.grade(ADAMW, spanish)
    grading = [r for r in openai_server.chat_requests if r.point_ids()]
    assert [asked_points(r) for r in grading] == [[1, 2, 3]] * 2
    assert grade.degraded and LLM_UNAVAILABLE_NOTICE in grade.notices
    assert NON_ENGLISH_NOTICE in grade.notices


async def test_an_llm_failure_leaves_the_offline_verdicts(
    openai_server: OpenAIServer, cascade: CascadeGrader, offline_grader: OfflineGrader
) -> None:
    openai_server.respond_with(Reply.invalid_json())
    grade = await cascade.grade(ADAMW, MIXED)
    offline = await offline_grader.grade(ADAMW, MIXED)
    assert [p.verdict for p in grade.points] == [p.verdict for p in offline.points]
    assert {p.decided_by for p in grade.points} == {"offline"}
    assert grade.degraded and grade.llm_points == 0 and grade.tokens_used == 360


async def test_over_budget_the_cascade_stays_offline(
    openai_server: OpenAIServer, offline_grader: OfflineGrader
) -> None:
    budget = MemoryTokenBudget(daily_limit=10)
    cascade = CascadeGrader(
        config_for(openai_server), offline=offline_grader, budget=budget, budget_key="c1"
    )
    openai_server.respond_with(echo_llm("covered"))
    grade = await cascade.grade(ADAMW, MIXED)
    assert openai_server.chat_requests == []
    assert BUDGET_NOTICE in grade.notices and grade.degraded


async def test_the_exact_cache_answers_a_resubmission_without_a_call(
    openai_server: OpenAIServer, cascade: CascadeGrader
) -> None:
    openai_server.respond_with(echo_llm("partial"))
    cached = CachedGrader(cascade, MemoryGradeCache(), kind="cascade")
    first = await cached.grade(ADAMW, MIXED)
    again = MIXED.replace(". ", ".\n\u200b", 1).upper()
    second = await cached.grade(ADAMW, again)
    assert len(openai_server.chat_requests) == 1
    assert second.cached == "exact" and second.tokens_used == 0
    assert [p.verdict for p in second.points] == [p.verdict for p in first.points]
    for point in second.points:
        assert point.evidence in again


async def test_the_semantic_cache_serves_a_near_copy_but_not_a_changed_figure(
    openai_server: OpenAIServer, offline_grader: OfflineGrader
) -> None:
    openai_server.respond_with(echo_llm("partial"))
    cascade = CascadeGrader(config_for(openai_server), offline=offline_grader)
    cached = CachedGrader(cascade, MemoryGradeCache(), kind="cascade")
    base = MIXED + " That is how I would put it."
    await cached.grade(ADAMW, base)
    near = base.replace("That is how", "This is how")
    served = await cached.grade(ADAMW, near)
    assert served.cached == "semantic" and len(openai_server.chat_requests) == 1
    for point in served.points:
        assert point.evidence in near

    # A near copy whose quoted sentence changed cannot reuse the quote: graded afresh.
    reworded = base.replace("how weight decay is applied", "how it applies weight decay")
    assert (await cached.grade(ADAMW, reworded)).cached is None
    # An added sentence is an added claim: graded afresh.
    assert (await cached.grade(ADAMW, base + " Hope this helps.")).cached is None

    changed = base.replace("56 GB", "28 GB")
    fresh = await cached.grade(ADAMW, changed)
    assert fresh.cached is None and len(openai_server.chat_requests) == 4


async def test_degraded_grades_are_not_cached(
    openai_server: OpenAIServer, cascade: CascadeGrader
) -> None:
    cached = CachedGrader(cascade, MemoryGradeCache(), kind="cascade")
    openai_server.script(Reply.server_error(), Reply.server_error())
    first = await cached.grade(ADAMW, MIXED)
    assert first.degraded
    openai_server.respond_with(echo_llm("partial"))
    second = await cached.grade(ADAMW, MIXED)
    assert second.cached is None and not second.degraded


async def test_cached_grades_never_cross_questions_or_rubrics(
    openai_server: OpenAIServer, offline_grader: OfflineGrader
) -> None:
    cache = MemoryGradeCache()
    cached = CachedGrader(offline_grader, cache, kind="offline")
    await cached.grade(ADAMW, STRONG_ADAMW)
    other = ADAMW.model_copy(update={"id": "D004-01"})
    edited = ADAMW.model_copy(update={"rubric": ADAMW.rubric[:2]})
    assert (await cached.grade(other, STRONG_ADAMW)).cached is None
    assert (await cached.grade(edited, STRONG_ADAMW)).cached is None
    assert (await cached.grade(ADAMW, STRONG_ADAMW)).cached == "exact"
