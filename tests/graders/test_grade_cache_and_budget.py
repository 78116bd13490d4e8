"""Grade caches and token budgets, in memory and in the real Redis."""

from __future__ import annotations

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
    answer_facts,
    exact_key,
    question_scope,
    reanchor,
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
