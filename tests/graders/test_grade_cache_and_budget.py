"""Grade caches and token budgets, in memory and in the real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aioredis

from graders.budget import MemoryTokenBudget, RedisTokenBudget, TokenBudget
from graders.cache import (
    CachedGrader,
    GradeCache,
    MemoryGradeCache,
    RedisGradeCache,
    SemanticEntry,
    answer_claims,
    answer_facts,
    exact_key,
    question_scope,
    reanchor,
    spelled_numbers,
)
from graders.models import Grade, PointGrade
from graders.offline import OfflineGrader
from tests.graders.samples import ADAMW, STRONG_ADAMW


def a_grade(score: float = 0.5, evidence: str = "8 extra bytes") -> Grade:
    return Grade(
        question_id="E1-005",
        score=score,
        points=[
            PointGrade(rubric="p1", verdict="covered", evidence=evidence, decided_by="offline"),
            PointGrade(rubric="p2", verdict="missing", decided_by="llm"),
        ],
        feedback="f",
        grader="cascade",
    )


def an_entry(seed: int, facts: tuple[str, ...] = ("56", "gb")) -> SemanticEntry:
    vector = np.random.default_rng(seed).normal(size=384).astype(np.float32)
    return SemanticEntry(
        vector=vector / np.linalg.norm(vector), facts=facts, length=100, grade=a_grade(seed / 10)
    )


@pytest.fixture
async def redis_conn(redis_url: str, redis_client: Any) -> AsyncIterator[aioredis.Redis]:
    conn = aioredis.Redis.from_url(redis_url)
    yield conn
    await conn.aclose()


def redis_for(request: pytest.FixtureRequest) -> aioredis.Redis:
    """A Redis client on the emptied test database (skips when Redis is down)."""
    url = request.getfixturevalue("redis_url")
    request.getfixturevalue("redis_client")
    return aioredis.Redis.from_url(url)


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[GradeCache]:
    if request.param == "memory":
        yield MemoryGradeCache(max_per_scope=3)
        return
    conn = redis_for(request)
    yield RedisGradeCache(conn, max_per_scope=3)
    await conn.aclose()


async def test_exact_entries_round_trip(cache: GradeCache) -> None:
    assert await cache.get_exact("k1") is None
    await cache.put_exact("k1", a_grade(0.75))
    stored = await cache.get_exact("k1")
    assert stored == a_grade(0.75)


async def test_semantic_entries_come_back_newest_first_and_bounded(cache: GradeCache) -> None:
    for seed in range(5):
        await cache.add_neighbour("scope-a", an_entry(seed))
    await cache.add_neighbour("scope-b", an_entry(9))
    entries = await cache.neighbours("scope-a")
    assert [e.grade.score for e in entries] == [0.4, 0.3, 0.2]
    assert np.allclose(entries[0].vector, an_entry(4).vector)
    assert entries[0].facts == ("56", "gb") and entries[0].length == 100
    assert [e.grade.score for e in await cache.neighbours("scope-b")] == [0.9]
    assert await cache.neighbours("scope-c") == []


async def test_redis_entries_expire(redis_conn: aioredis.Redis) -> None:
    cache = RedisGradeCache(redis_conn, ttl_s=60)
    await cache.put_exact("k", a_grade())
    await cache.add_neighbour("s", an_entry(1))
    assert 0 < await redis_conn.ttl("studybot:grader:cache:exact:k") <= 60
    assert 0 < await redis_conn.ttl("studybot:grader:cache:near:s") <= 60


async def test_a_redis_cache_serves_another_process(
    redis_url: str, redis_client: Any, offline_grader: OfflineGrader
) -> None:
    writer = RedisGradeCache.from_url(redis_url)
    reader = RedisGradeCache.from_url(redis_url)
    try:
        first = await CachedGrader(offline_grader, writer, kind="offline").grade(
            ADAMW, STRONG_ADAMW
        )
        again = await CachedGrader(offline_grader, reader, kind="offline").grade(
            ADAMW, STRONG_ADAMW + "  "
        )
    finally:
        await writer.aclose()
        await reader.aclose()
    assert first.cached is None and again.cached == "exact"
    assert [p.verdict for p in again.points] == [p.verdict for p in first.points]


def test_reanchor_requotes_from_the_new_answer_or_refuses() -> None:
    grade = a_grade(evidence="8 extra bytes")
    moved = reanchor(grade, "Both are fp32: 8  EXTRA\u200b bytes per parameter.")
    assert moved is not None and moved.points[0].evidence == "8  EXTRA\u200b bytes"
    assert reanchor(grade, "Both are fp32: 4 extra bytes per parameter.") is None


def test_keys_separate_questions_rubrics_and_graders() -> None:
    scope = question_scope("cascade", ADAMW)
    assert scope != question_scope("offline", ADAMW)
    assert scope != question_scope("cascade", ADAMW.model_copy(update={"rubric": ("x",)}))
    assert exact_key(scope, "PSI > 0.2\u200b") == exact_key(scope, "psi >  0.2")
    assert exact_key(scope, "PSI > 0.2") != exact_key(scope, "PSI > 0.3")


def test_answer_facts_count_repeats() -> None:
    assert answer_facts("At 02:10, then 02:40, 4 s") != answer_facts("At 4:10, then 02:40, 4 s")
    assert answer_facts("PSI above 0.2, FP32") == answer_facts("psi above 0.2; fp32!")
    assert answer_facts("Use ef_search") != answer_facts("Use ef_construction")


class Today:
    """A settable date for budgets."""

    def __init__(self) -> None:
        self.value = date(2025, 3, 1)

    def __call__(self) -> date:
        return self.value


@pytest.fixture(params=["memory", "redis"])
async def budget_and_day(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[TokenBudget, Today]]:
    today = Today()
    if request.param == "memory":
        yield MemoryTokenBudget(1_000, today=today), today
        return
    conn = redis_for(request)
    yield RedisTokenBudget(conn, 1_000, today=today), today
    await conn.aclose()


async def test_budgets_count_per_key_per_day(budget_and_day: tuple[TokenBudget, Today]) -> None:
    budget, today = budget_and_day
    assert await budget.remaining("cohort-a") == 1_000
    assert await budget.spend("cohort-a", 400) == 400
    assert await budget.spend("cohort-a", 700) == 1_100
    assert await budget.remaining("cohort-a") == 0
    assert await budget.remaining("cohort-b") == 1_000
    today.value = date(2025, 3, 2)
    assert await budget.remaining("cohort-a") == 1_000
    assert await budget.spend("cohort-a", -5) == 0


async def test_redis_budget_counters_expire(redis_conn: aioredis.Redis) -> None:
    budget = RedisTokenBudget(redis_conn, 100, today=lambda: date(2025, 3, 1))
    await budget.spend("c", 10)
    ttl = await redis_conn.ttl("studybot:grader:tokens:c:2025-03-01")
    assert 86_400 < ttl <= 2 * 86_400


async def test_two_budget_clients_share_one_count(redis_url: str, redis_client: Any) -> None:
    first = RedisTokenBudget.from_url(redis_url, 500)
    second = RedisTokenBudget.from_url(redis_url, 500)
    try:
        await first.spend("cohort", 300)
        await second.spend("cohort", 100)
        assert await first.remaining("cohort") == 100
    finally:
        await first.aclose()
        await second.aclose()


def test_budgets_refuse_a_negative_limit() -> None:
    with pytest.raises(ValueError):
        MemoryTokenBudget(-1)


# --- reservations ----------------------------------------------------------------------------


async def test_a_reservation_fits_or_is_refused_and_settles_to_the_real_cost(
    budget_and_day: tuple[TokenBudget, Today],
) -> None:
    budget, today = budget_and_day
    first = await budget.reserve("c", 600)
    assert first is not None and await budget.remaining("c") == 400
    assert await budget.reserve("c", 500) is None
    await budget.settle(first, 250)
    assert await budget.remaining("c") == 750
    second = await budget.reserve("c", 750)
    assert second is not None and await budget.remaining("c") == 0
    # A request that spent nothing (a 429) gives its reservation back.
    await budget.settle(second, 0)
    assert await budget.remaining("c") == 750
    # A reservation settles on the day it was made, even after midnight.
    third = await budget.reserve("c", 100)
    assert third is not None
    today.value = date(2025, 3, 2)
    await budget.settle(third, 100)
    assert await budget.remaining("c") == 1_000
    today.value = date(2025, 3, 1)
    assert await budget.remaining("c") == 650


async def test_concurrent_reservations_never_pass_the_limit(
    budget_and_day: tuple[TokenBudget, Today],
) -> None:
    budget, _ = budget_and_day
    results = await asyncio.gather(*(budget.reserve("c", 300) for _ in range(8)))
    assert sum(r is not None for r in results) == 3
    assert await budget.remaining("c") == 100


async def test_two_redis_clients_reserve_against_one_limit(
    redis_url: str, redis_client: Any
) -> None:
    clients = [RedisTokenBudget.from_url(redis_url, 1_000) for _ in range(4)]
    try:
        results = await asyncio.gather(*(c.reserve("cohort", 400) for c in clients))
        assert sum(r is not None for r in results) == 2
        assert await clients[0].remaining("cohort") == 200
    finally:
        for client in clients:
            await client.aclose()


# --- claims in the semantic cache ------------------------------------------------------------


def test_claims_tell_spelled_numbers_negations_and_added_sentences_apart() -> None:
    base = "For seven billion parameters Adam needs 56 GB of state. It is not free."
    assert answer_claims(base) == answer_claims(base.replace("needs", "requires"))
    assert answer_claims(base) != answer_claims(base.replace("seven", "seventy"))
    assert answer_claims(base) != answer_claims(base.replace("is not free", "is free"))
    appended = base + " None of the above is true for AdamW, though."
    assert answer_claims(base) != answer_claims(appended)
    assert spelled_numbers("seven billion and seventy billion, one hundred and five") == [
        7_000_000_000,
        70_000_000_000,
        105,
    ]


async def test_the_semantic_cache_needs_the_same_claims(offline_grader: OfflineGrader) -> None:
    answer = (
        "Adam keeps two extra tensors for every weight, m and v, both in fp32: 8 extra bytes per "
        "parameter. For a seven billion parameter model that is 56 GB of optimizer state alone. "
        "AdamW applies weight decay directly to the weights instead of through the gradient. "
        "That is how I would explain it in an interview."
    )
    cached = CachedGrader(offline_grader, MemoryGradeCache(), kind="offline")
    await cached.grade(ADAMW, answer)
    near = answer.replace("That is how I would", "This is how I would")
    assert (await cached.grade(ADAMW, near)).cached == "semantic"
    for changed in (
        answer.replace("seven billion", "seventy billion"),
        answer + " None of the above is true for AdamW, though.",
        answer.replace("instead of through", "not instead of through"),
    ):
        assert (await cached.grade(ADAMW, changed)).cached is None


class _Fixed:
    """A grader returning a fixed grade, named by a model."""

    def __init__(self, grade: Grade, identity: str) -> None:
        self.grade_value = grade
        self.cache_identity = identity
        self.calls = 0

    async def grade(self, question: Any, answer: str) -> Grade:
        self.calls += 1
        return self.grade_value


async def test_lowered_or_disputed_grades_are_not_cached_and_models_do_not_share() -> None:
    answer = "Adam keeps 8 extra bytes per parameter."
    good = a_grade(evidence="8 extra bytes")
    cache = MemoryGradeCache()
    for unfit in (
        good.model_copy(update={"downgraded_points": 1}),
        good.model_copy(update={"provisional_points": 1}),
        good.model_copy(update={"degraded": True}),
    ):
        inner = _Fixed(unfit, "model-a|prompt-2")
        grader = CachedGrader(inner, cache, kind="llm")
        await grader.grade(ADAMW, answer)
        await grader.grade(ADAMW, answer)
        assert inner.calls == 2
    first = _Fixed(good, "model-a|prompt-2")
    await CachedGrader(first, cache, kind="llm").grade(ADAMW, answer)
    served = await CachedGrader(_Fixed(good, "model-a|prompt-2"), cache, kind="llm").grade(
        ADAMW, answer
    )
    assert served.cached == "exact"
    other_model = _Fixed(good, "model-b|prompt-2")
    assert (await CachedGrader(other_model, cache, kind="llm").grade(ADAMW, answer)).cached is None
    other_prompt = _Fixed(good, "model-a|prompt-3")
    await CachedGrader(other_prompt, cache, kind="llm").grade(ADAMW, answer)
    assert other_model.calls == 1 and other_prompt.calls == 1
