"""Grade caches: exact on (question, normalised answer), semantic on near-identical answers.

A cached grade is only ever returned after its evidence has been found again in the answer being
graded, so every quote in a reply is a real span of that answer. The semantic cache is
deliberately conservative: beyond a high cosine similarity between the two answers it requires
the same claims: the same figures and identifiers (numbers written in words included, so "seven
billion" never matches "seventy billion"), the same negations, the same number of sentences and a
similar length, because an answer that changes "8 bytes" into "4 bytes" or adds "none of this is
true" is nearly identical to an embedding and wrong to an interviewer.

Only grades that stand as made are cached: not one made while the LLM was down or over budget,
not one with a point lowered by the evidence checks or held for review. The key names the grader
kind, the model and the prompt version, so a grade made by another model or prompt is not served.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from graders.embeddings import Embedder, Vectors, answer_vector, default_embedder
from graders.models import Grade, Grader, GraderKind, RubricQuestion
from graders.text import answer_key, check_gradable, locate_quote, split_units, visible_text

# Cosine similarity between two answers' mean sentence vectors above which a cached grade may be
# reused. Measured on the labeled set: distinct hand-written answers to one question stay below
# it, while copies differing in whitespace, case or a filler sentence stay above it.
SEMANTIC_THRESHOLD = 0.97
_LENGTH_RATIO = (0.85, 1 / 0.85)


@dataclass(frozen=True)
class SemanticEntry:
    """A graded answer remembered by meaning: its vector, its facts, its length and its grade."""

    vector: Vectors
    facts: tuple[str, ...]
    length: int
    grade: Grade
    # Spelled-out numbers, negations and the sentence count; None for entries stored before
    # claims were recorded (they never match).
    claims: tuple[str, ...] | None = None

    def to_json(self) -> str:
        """Serialise the entry for storage."""
        return json.dumps(
            {
                "vector": base64.b64encode(self.vector.astype(np.float32).tobytes()).decode(),
                "facts": list(self.facts),
                "length": self.length,
                "grade": self.grade.model_dump(mode="json"),
                "claims": None if self.claims is None else list(self.claims),
            }
        )

    @classmethod
    def from_json(cls, raw: str | bytes) -> SemanticEntry:
        """Read an entry written by to_json."""
        data = json.loads(raw)
        vector = np.frombuffer(base64.b64decode(data["vector"]), dtype=np.float32).copy()
        return cls(
            vector=vector,
            facts=tuple(data["facts"]),
            length=int(data["length"]),
            grade=Grade.model_validate(data["grade"]),
            claims=None if data.get("claims") is None else tuple(data["claims"]),
        )


@runtime_checkable
class GradeCache(Protocol):
    """Storage for cached grades: exact by key, semantic by scope (one question and rubric)."""

    async def get_exact(self, key: str) -> Grade | None:
        """Return the grade stored under the key, if any."""
        ...

    async def put_exact(self, key: str, grade: Grade) -> None:
        """Store a grade under the key."""
        ...

    async def neighbours(self, scope: str) -> list[SemanticEntry]:
        """Return the semantic entries remembered for the scope, newest first."""
        ...

    async def add_neighbour(self, scope: str, entry: SemanticEntry) -> None:
        """Remember a semantic entry for the scope."""
        ...


class MemoryGradeCache:
    """A bounded in-process grade cache."""

    def __init__(self, max_exact: int = 10_000, max_per_scope: int = 256) -> None:
        self._exact: OrderedDict[str, Grade] = OrderedDict()
        self._scopes: dict[str, list[SemanticEntry]] = {}
        self._max_exact = max_exact
        self._max_per_scope = max_per_scope

    async def get_exact(self, key: str) -> Grade | None:
        """Return the grade stored under the key, if any."""
        grade = self._exact.get(key)
        if grade is not None:
            self._exact.move_to_end(key)
        return grade

    async def put_exact(self, key: str, grade: Grade) -> None:
        """Store a grade under the key, evicting the least recently used beyond the bound."""
        self._exact[key] = grade
        self._exact.move_to_end(key)
        while len(self._exact) > self._max_exact:
            self._exact.popitem(last=False)

    async def neighbours(self, scope: str) -> list[SemanticEntry]:
        """Return the semantic entries remembered for the scope, newest first."""
        return list(self._scopes.get(scope, []))

    async def add_neighbour(self, scope: str, entry: SemanticEntry) -> None:
        """Remember a semantic entry, keeping the newest few per scope."""
        entries = self._scopes.setdefault(scope, [])
        entries.insert(0, entry)
        del entries[self._max_per_scope :]


class RedisGradeCache:
    """A grade cache shared by every process through Redis (`redis.asyncio`)."""

    def __init__(
        self,
        redis: Any,
        *,
        prefix: str = "studybot:grader:cache",
        ttl_s: int = 30 * 86_400,
        max_per_scope: int = 256,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._max_per_scope = max_per_scope

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisGradeCache:
        """Connect to Redis by URL."""
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url), **kwargs)

    async def get_exact(self, key: str) -> Grade | None:
        """Return the grade stored under the key, if any."""
        raw = await self._redis.get(f"{self._prefix}:exact:{key}")
        return None if raw is None else Grade.model_validate_json(raw)

    async def put_exact(self, key: str, grade: Grade) -> None:
        """Store a grade under the key with the cache's time to live."""
        await self._redis.set(
            f"{self._prefix}:exact:{key}", grade.model_dump_json(), ex=self._ttl_s
        )

    async def neighbours(self, scope: str) -> list[SemanticEntry]:
        """Return the semantic entries remembered for the scope, newest first."""
        raws = await self._redis.lrange(f"{self._prefix}:near:{scope}", 0, -1)
        return [SemanticEntry.from_json(raw) for raw in raws]

    async def add_neighbour(self, scope: str, entry: SemanticEntry) -> None:
        """Remember a semantic entry, keeping the newest few per scope."""
        name = f"{self._prefix}:near:{scope}"
        pipe = self._redis.pipeline(transaction=True)
        pipe.lpush(name, entry.to_json())
        pipe.ltrim(name, 0, self._max_per_scope - 1)
        pipe.expire(name, self._ttl_s)
        await pipe.execute()

    async def aclose(self) -> None:
        """Close the Redis connection."""
        await self._redis.aclose()


# Figures, and words made with digits or underscores (FP32, H100, ef_search): the facts an
# embedding barely sees change. Case-insensitive, as the exact cache is.
_FACT = re.compile(r"\d+(?:[.,]\d+)*|\b[^\W\d_]*(?:\d|_)\w*\b")


def answer_facts(answer: str) -> tuple[str, ...]:
    """Return every figure and identifier an answer states, sorted, repeats kept."""
    return tuple(sorted(m.group(0).lower() for m in _FACT.finditer(visible_text(answer))))


_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_NUMBER_WORDS: dict[str, int] = {w: i for i, w in enumerate(_UNITS)}
_NUMBER_WORDS.update({w: 20 + 10 * i for i, w in enumerate(_TENS)})
_SCALES = {
    "hundred": 100,
    "thousand": 10**3,
    "million": 10**6,
    "billion": 10**9,
    "trillion": 10**12,
}
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+(?:[.,]\d+)*|[.!?;\n]")
_NEGATIONS = frozenset(
    "not no never none nothing neither nor without cannot wrong false incorrect untrue myth".split()
)


def spelled_numbers(text: str) -> list[int]:
    """Return the numbers an answer writes in words ("seven billion" -> 7000000000)."""
    out: list[int] = []
    total = current = 0
    last_scale = 0
    seen = False
    # Punctuation and figures end a number: "seven, eight" is two.
    for word in re.findall(r"[a-z]+|[^a-z\s-]", text.lower()):
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            seen = True
        elif word == "hundred" and seen:
            current = max(current, 1) * 100
        elif word in _SCALES and seen:
            scale = _SCALES[word]
            if last_scale and scale >= last_scale:
                # "seven billion and seventy billion" is two numbers, not one.
                out.append(total)
                total = 0
            total += max(current, 1) * scale
            current = 0
            last_scale = scale
        elif word == "and" and seen:
            continue
        else:
            if seen:
                out.append(total + current)
            total = current = last_scale = 0
            seen = False
    if seen:
        out.append(total + current)
    return out


def answer_claims(answer: str) -> tuple[str, ...]:
    """Return what two answers must share to share a grade beyond their figures.

    The numbers written in words, every negation (n't included) and the number of sentences.
    """
    text = visible_text(answer).lower()
    tokens = _TOKEN.findall(text)
    negations = sorted(t for t in tokens if t in _NEGATIONS or t.endswith("n't") or t == "cannot")
    sentences = sum(1 for t in tokens if t in ".!?;\n") + (
        1 if tokens and tokens[-1] not in ".!?;\n" else 0
    )
    numbers = sorted(str(n) for n in spelled_numbers(text))
    return (
        *(f"n:{n}" for n in numbers),
        *(f"not:{w}" for w in negations),
        f"sentences:{sentences}",
    )


def question_scope(grader: GraderKind, question: RubricQuestion, identity: str = "") -> str:
    """Return the cache scope: the question's id and exact rubric, the grader, model and prompt."""
    payload = json.dumps(
        [grader, identity, question.id, list(question.rubric), question.rubric_drafted],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def exact_key(scope: str, answer: str) -> str:
    """Return the exact-cache key of an answer within a scope."""
    return hashlib.sha256(f"{scope}\n{answer_key(answer)}".encode()).hexdigest()


def reanchor(grade: Grade, answer: str) -> Grade | None:
    """Re-quote a cached grade's evidence from this answer, or return None if any quote is gone."""
    points = []
    for point in grade.points:
        if point.verdict == "missing" or not point.evidence:
            points.append(point.model_copy(update={"evidence": ""}))
            continue
        span = locate_quote(answer, point.evidence, min_chars=1)
        if span is None:
            return None
        points.append(point.model_copy(update={"evidence": answer[span[0] : span[1]]}))
    return grade.model_copy(update={"points": points})


def is_near_duplicate(
    entry: SemanticEntry,
    vector: Vectors,
    facts: tuple[str, ...],
    length: int,
    threshold: float = SEMANTIC_THRESHOLD,
    claims: tuple[str, ...] | None = None,
) -> bool:
    """Tell whether a remembered answer is close enough to this one to reuse its grade."""
    if entry.facts != facts or entry.vector.shape != vector.shape:
        return False
    if entry.claims is None or entry.claims != claims:
        return False
    ratio = length / max(1, entry.length)
    if not _LENGTH_RATIO[0] <= ratio <= _LENGTH_RATIO[1]:
        return False
    return float(entry.vector @ vector) >= threshold


class CachedGrader:
    """Wraps a grader with the exact and semantic caches."""

    def __init__(
        self,
        inner: Grader,
        cache: GradeCache,
        *,
        kind: GraderKind,
        embedder: Embedder | None = None,
        semantic_threshold: float = SEMANTIC_THRESHOLD,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.kind = kind
        self._embedder = embedder
        self.semantic_threshold = semantic_threshold

    @property
    def embedder(self) -> Embedder:
        """Return the sentence embedder used to compare answers."""
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    def answer_vector(self, answer: str) -> Vectors:
        """Return the unit vector the semantic cache compares (CPU-bound)."""
        return answer_vector(self.embedder, [u.text for u in split_units(answer)])

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        """Return a cached grade whose evidence holds for this answer, else grade and remember."""
        check_gradable(question, answer)
        started = time.perf_counter()
        identity = str(getattr(self.inner, "cache_identity", ""))
        scope = question_scope(self.kind, question, identity)
        key = exact_key(scope, answer)
        cached = await self.cache.get_exact(key)
        if cached is not None and (grade := reanchor(cached, answer)) is not None:
            return _served(grade, "exact", started)
        vector = await asyncio.to_thread(self.answer_vector, answer)
        facts = answer_facts(answer)
        claims = answer_claims(answer)
        length = len(visible_text(answer))
        for entry in await self.cache.neighbours(scope):
            if is_near_duplicate(entry, vector, facts, length, self.semantic_threshold, claims):
                grade = reanchor(entry.grade, answer)
                if grade is not None:
                    return _served(grade, "semantic", started)
        grade = await self.inner.grade(question, answer)
        if grade.cacheable:
            await self.cache.put_exact(key, grade)
            entry = SemanticEntry(
                vector=vector, facts=facts, length=length, grade=grade, claims=claims
            )
            await self.cache.add_neighbour(scope, entry)
        return grade


def _served(grade: Grade, how: str, started: float) -> Grade:
    return grade.model_copy(
        update={
            "cached": how,
            "tokens_used": 0,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
        }
    )
