"""Link free-text day questions to the bank questions whose rubric can grade them.

The method is lexical and deterministic (no model, pure Python arithmetic, so stored
confidences are identical on every machine):

1. Text is lower-cased, a small ML-systems glossary folds synonymous phrasings into one concept
   token ("time to first token", "first-token latency" and "TTFT" all become one token),
   stop words go, words are reduced by a light suffix stemmer and cut to 7 characters; the
   features are these tokens and their adjacent pairs.
2. Candidates are the bank questions of a fitting kind (a spoken prompt is never graded against
   a coding sketch; an "Implement ..." prompt only against one). They are ranked by TF-IDF
   cosine between the day question and the bank question's text plus its "testing" note.
3. The best candidate is accepted only if two pieces of evidence agree: the cosine reaches
   COSINE_GATE, and the candidate (text, note and rubric) covers at least COVERAGE_GATE of the
   day question's IDF-weighted terms. Terms the bank never uses count against coverage: they
   mark a topic the bank does not have (e.g. DFS on a board, semantic caching).

`match_confidence` is min(cosine / (2 * COSINE_GATE), coverage / (2 * COVERAGE_GATE)), capped at
1, so it is at least 0.5 exactly when both gates pass. The gates were set on the authored days:
see bench/content_linking.py, which prints every decision.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from content.schema import DayPlan, DayQuestion, Question, QuestionKind

COSINE_GATE = 0.18
COVERAGE_GATE = 0.40
ACCEPT_AT = 0.5
# Coverage credit for a term found only in the rubric (weaker than in the question itself).
RUBRIC_CREDIT = 0.6

GLOSSARY: dict[str, tuple[str, ...]] = {
    "ttft": (
        "time to first token",
        "time-to-first-token",
        "first-token latency",
        "first token",
        "ttft",
    ),
    "decodelatency": (
        "tokens-per-second",
        "tokens per second",
        "time between tokens",
        "inter-token latency",
        "generation latency",
        "tbt",
        "tpot",
    ),
    "kvcache": ("kv cache", "kv-cache", "key-value cache"),
    "pagedattention": ("pagedattention", "paged attention"),
    "autoscaling": (
        "horizontal pod autoscaler",
        "hpa",
        "keda",
        "autoscaling",
        "autoscaler",
        "autoscale",
    ),
    "ptq": ("post-training quantization", "ptq"),
    "qat": ("quantization-aware training", "qat"),
    "distillation": (
        "knowledge distillation",
        "distillation",
        "distill",
        "teacher-student",
        "soft-target",
        "soft targets",
        "soft target",
    ),
    "rollback": ("rollback", "roll back", "rolled back"),
    "oom": ("out-of-memory", "out of memory", "oom"),
    "diffprivacy": ("differential privacy", "dp-sgd"),
    "contbatching": ("continuous batching", "iteration-level scheduling", "in-flight batching"),
    "specdecoding": ("speculative decoding",),
    "prefixcaching": ("prefix caching", "prefix cache"),
    "semanticcaching": ("semantic caching", "semantic cache", "semantic-cache"),
}
STOP_WORDS = frozenset(
    """a an the and or of to in on for with is are was be do does did what whats how why when
    which who would you your it its this that vs versus than then between into from by as at
    each can could should about over under walk through me compare explain describe there
    their they them we our us if not no so only just one two use used using make get right
    often actually typical new""".split()
)
_CONCEPT_OF = {phrase: concept for concept, phrases in GLOSSARY.items() for phrase in phrases}
# One alternation, longest phrases first, so "kv-cache" wins over any shorter overlap.
_PHRASE_RE = re.compile(
    r"(?<![a-z0-9])("
    + "|".join(re.escape(p) for p in sorted(_CONCEPT_OF, key=lambda p: (-len(p), p)))
    + r")(?![a-z0-9])"
)
_CODING_PROMPT = re.compile(r"^(implement|write|code)\b")


@lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("es") and word[-3] in "hsxz":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 4 and word.endswith("e"):
        word = word[:-1]
    return word[:7]


def tokens(text: str) -> list[str]:
    """Return the normalised content tokens of `text` (glossary concepts kept whole)."""
    text = text.lower().replace("’", "'").replace("‘", "'")
    text = re.sub(r"'s\b", "", text)
    text = _PHRASE_RE.sub(lambda m: f" zz{_CONCEPT_OF[m.group(1)]} ", text)
    words = re.findall(r"[a-z0-9]+", text)
    return [
        word if word.startswith("zz") else _stem(word)
        for word in words
        if word not in STOP_WORDS and len(word) > 1
    ]


def _features(text: str) -> list[str]:
    return _pairs(tokens(text))


def _pairs(words: list[str]) -> list[str]:
    return words + [f"{a}_{b}" for a, b in zip(words, words[1:], strict=False)]


def candidate_kinds(text: str) -> frozenset[QuestionKind]:
    """Return which kinds of bank question could grade a prompt worded like `text`."""
    if _CODING_PROMPT.match(text.strip().lower()):
        return frozenset({"coding"})
    # A coding sketch cannot grade a spoken answer; concept and behavioral rubrics can.
    return frozenset({"concept", "behavioral"})


@dataclass(frozen=True)
class Link:
    """The outcome of linking one prompt: the accepted bank id (or None) and the evidence."""

    bank_id: str | None
    confidence: float
    candidate: str | None
    cosine: float
    coverage: float

    @property
    def matched(self) -> bool:
        """Return whether a bank question was accepted."""
        return self.bank_id is not None


class QuestionLinker:
    """Find the bank question a free-text prompt asks about, or decide there is none."""

    def __init__(self, questions: Iterable[Question]) -> None:
        self._questions = sorted(questions, key=lambda q: (q.section, q.number))
        headline_words = [tokens(f"{q.text} {q.tests or ''}") for q in self._questions]
        all_words = [
            words + tokens(" ".join([*q.rubric, q.solution_sketch or ""]))
            for words, q in zip(headline_words, self._questions, strict=True)
        ]
        count = len(self._questions)
        df = Counter(f for words in all_words for f in set(_pairs(words)))
        self._idf = {f: math.log((count + 1) / (n + 1)) + 1.0 for f, n in sorted(df.items())}
        self._vectors = [self._vector(_pairs(words)) for words in headline_words]
        self._headline_terms = [set(words) for words in headline_words]
        self._all_terms = [set(words) for words in all_words]
        term_df = Counter(t for terms in self._all_terms for t in terms)
        self._term_df = dict(sorted(term_df.items()))
        self._count = count

    def _vector(self, feats: list[str]) -> dict[str, float]:
        weights = {
            f: (1.0 + math.log(n)) * self._idf[f]
            for f, n in sorted(Counter(feats).items())
            if f in self._idf
        }
        norm = math.sqrt(math.fsum(w * w for w in weights.values()))
        return {f: w / norm for f, w in weights.items()} if norm else {}

    def _term_idf(self, term: str) -> float:
        return math.log((self._count + 1) / (self._term_df.get(term, 0) + 0.5))

    def _coverage(self, text: str, index: int) -> float:
        terms = sorted(set(tokens(text)))
        total = math.fsum(self._term_idf(t) for t in terms)
        if not total:
            return 0.0
        covered = math.fsum(
            self._term_idf(t)
            * (
                1.0
                if t in self._headline_terms[index]
                else RUBRIC_CREDIT
                if t in self._all_terms[index]
                else 0.0
            )
            for t in terms
        )
        return covered / total

    def link(self, text: str) -> Link:
        """Return the bank question `text` asks about, or an unmatched Link with the evidence."""
        query = self._vector(_features(text))
        kinds = candidate_kinds(text)
        best_index, best_score = -1, 0.0
        for index, (question, vector) in enumerate(
            zip(self._questions, self._vectors, strict=True)
        ):
            if question.kind not in kinds:
                continue
            score = math.fsum(w * vector.get(f, 0.0) for f, w in query.items())
            if score > best_score:
                best_index, best_score = index, score
        if best_index < 0:
            return Link(bank_id=None, confidence=0.0, candidate=None, cosine=0.0, coverage=0.0)
        coverage = self._coverage(text, best_index)
        confidence = min(1.0, best_score / (2 * COSINE_GATE), coverage / (2 * COVERAGE_GATE))
        candidate = self._questions[best_index].id
        confidence = round(confidence, 3)
        return Link(
            bank_id=candidate if confidence >= ACCEPT_AT else None,
            confidence=confidence,
            candidate=candidate,
            cosine=round(best_score, 4),
            coverage=round(coverage, 4),
        )

    def link_question(self, question: DayQuestion) -> DayQuestion:
        """Return `question` linked automatically unless an organiser or the bank fixed it."""
        if question.match_method in ("bank", "manual"):
            return question
        link = self.link(question.text)
        return question.model_copy(
            update={
                "bank_id": link.bank_id,
                "match_confidence": link.confidence,
                "match_method": "lexical" if link.matched else "none",
            }
        )

    def link_plan(self, plan: DayPlan, *, relink: bool = True) -> DayPlan:
        """Return `plan` with its questions linked; without `relink`, only unlinked ones."""
        tracks = []
        for track in plan.tracks:
            items = []
            for item in track.items:
                questions = [
                    self.link_question(q) if relink or q.match_method is None else q
                    for q in item.questions
                ]
                items.append(item.model_copy(update={"questions": questions}))
            tracks.append(track.model_copy(update={"items": items}))
        return plan.model_copy(update={"tracks": tracks})
