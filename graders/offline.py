"""The offline grader: sentence embeddings plus the rubric point's key terms, on the CPU.

Each rubric point is compared with every sentence of the answer (and every pair of neighbouring
sentences, since one point is often made across two). Three features make its score:

- the best similarity of the whole point with a sentence or pair,
- the mean, over the point's clauses, of each clause's best similarity (a point with three
  claims is covered by an answer that makes all three, not by one that repeats the first),
- the share of the point's key terms (numbers, acronyms, identifiers) found in the sentences
  that match it best: "8 bytes/param" said as "8 bytes per parameter" counts, "4 bytes" does not.

The thresholds that turn the score into covered / partial / missing were fitted on the labeled
set in tests/data/graded_answers.yaml (`bench/grader_agreement.py --calibrate`) and the bench
checks them on questions held out of the fit.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass

import numpy as np

from graders.embeddings import Embedder, default_embedder
from graders.models import (
    Grade,
    PointGrade,
    RubricQuestion,
    Verdict,
    rubric_notices,
    score_points,
    summarise,
)
from graders.text import (
    Unit,
    addresses_grader,
    check_gradable,
    grader_talk_spans,
    join_units,
    key_terms,
    looks_non_english,
    split_units,
)

NON_ENGLISH_NOTICE = (
    "This answer does not look like English; the offline grader compares meaning in English "
    "only, so points may have been missed."
)


@dataclass(frozen=True)
class OfflineThresholds:
    """Where the offline score turns into a verdict, and how sure a verdict must be to be final."""

    covered: float
    partial: float
    # Weight of the key-term share, centred so a point without key terms is neither helped nor hurt.
    term_weight: float
    # The cascade keeps an offline verdict only when its score is this far from both thresholds.
    clear_margin: float


# Fitted on the English concept answers of tests/data/graded_answers.yaml by
# `bench/grader_agreement.py --calibrate`; the bench reports agreement on held-out questions.
DEFAULT_THRESHOLDS = OfflineThresholds(
    covered=0.57, partial=0.53, term_weight=0.10, clear_margin=0.13
)
# Story questions are judged on structure and ownership, which sentence similarity cannot see:
# their offline verdicts are a rough guide and the cascade always asks the LLM about them.
UNRELIABLE_KINDS = frozenset({"behavioral"})
# Above this many sentences, neighbouring pairs are compared by their averaged vectors.
_MAX_ENCODED_PAIRS = 40
GRADER_TALK_NOTICE = (
    "Sentences addressed to the grader were ignored; only the answer to the question is graded."
)
BEHAVIORAL_NOTICE = (
    "Story answers are judged on structure and specifics, which the offline grader can only "
    "approximate; treat these verdicts as a rough guide."
)


@dataclass(frozen=True)
class PointFeatures:
    """What the offline grader measured for one rubric point."""

    best: float
    clauses: float
    terms: float | None
    # Share of the figures the point asserts ("= 56 GB") found; None when it asserts none.
    results: float | None
    missing_terms: tuple[str, ...]
    evidence: Unit | None


@dataclass(frozen=True)
class PointAssessment:
    """The offline verdict on one point, its score and how far it is from a threshold."""

    verdict: Verdict
    score: float
    margin: float
    evidence: str
    comment: str


@dataclass(frozen=True)
class Assessment:
    """The offline verdicts on every rubric point of one answer."""

    points: tuple[PointAssessment, ...]
    non_english: bool
    # True when sentences addressed to the grader were left out of the grading.
    grader_talk: bool = False


def combine(features: PointFeatures, thresholds: OfflineThresholds) -> float:
    """Return the point's score from its features."""
    semantic = 0.5 * features.best + 0.5 * features.clauses
    if features.terms is None:
        return semantic
    return semantic + thresholds.term_weight * (features.terms - 0.5)


def verdict_for(score: float, thresholds: OfflineThresholds) -> Verdict:
    """Turn a score into a verdict."""
    if score >= thresholds.covered:
        return "covered"
    if score >= thresholds.partial:
        return "partial"
    return "missing"


def figures_absent(features: PointFeatures) -> bool:
    """Tell whether the point asserts figures ("= 56 GB") and the answer states none of them."""
    return features.results is not None and features.results == 0


def decide(features: PointFeatures, thresholds: OfflineThresholds) -> tuple[float, Verdict, float]:
    """Return the score, the verdict and its margin for one point.

    A point that asserts figures is not covered by an answer that states none of them, however
    close the wording: such a verdict is capped at partial and left to the LLM when there is one.
    """
    score = combine(features, thresholds)
    verdict = verdict_for(score, thresholds)
    margin = margin_for(score, thresholds)
    if verdict == "covered" and figures_absent(features):
        return score, "partial", 0.0
    return score, verdict, margin


def margin_for(score: float, thresholds: OfflineThresholds) -> float:
    """Return how far a score lies from the nearest verdict threshold."""
    return min(abs(score - thresholds.covered), abs(score - thresholds.partial))


_CLAUSE_SPLIT = re.compile(r";\s+|\s+[—–]\s+|\s*→\s*|\.\s+")


def rubric_clauses(point: str) -> list[str]:
    """Split a rubric point into its separate claims (short fragments join their neighbour)."""
    clauses: list[str] = []
    for piece in _CLAUSE_SPLIT.split(point):
        piece = piece.strip(" .;")
        if not piece:
            continue
        if clauses and len(piece.split()) < 3:
            clauses[-1] = f"{clauses[-1]} {piece}"
        else:
            clauses.append(piece)
    if len(clauses) > 1 and len(clauses[0].split()) < 3:
        clauses[1] = f"{clauses[0]} {clauses[1]}"
        clauses.pop(0)
    return clauses or [point]


class OfflineGrader:
    """Grades against the rubric with sentence embeddings and key terms; needs no network."""

    name = "offline"

    def __init__(
        self,
        embedder: Embedder | None = None,
        thresholds: OfflineThresholds = DEFAULT_THRESHOLDS,
    ) -> None:
        self._embedder = embedder
        self.thresholds = thresholds

    @property
    def embedder(self) -> Embedder:
        """Return the sentence embedder (the process-wide one unless another was given)."""
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        """Grade an answer offline, in a worker thread so the event loop keeps running."""
        check_gradable(question, answer)
        started = time.perf_counter()
        assessment = await asyncio.to_thread(self.assess, question, answer)
        return self.grade_from(question, assessment, started=started)

    def grade_from(
        self, question: RubricQuestion, assessment: Assessment, *, started: float
    ) -> Grade:
        """Build the Grade for an assessment made earlier."""
        points = [
            PointGrade(
                rubric=rubric,
                verdict=point.verdict,
                evidence=point.evidence,
                comment=point.comment,
                decided_by="offline",
                similarity=round(point.score, 4),
            )
            for rubric, point in zip(question.rubric, assessment.points, strict=True)
        ]
        notices = [NON_ENGLISH_NOTICE] if assessment.non_english else []
        if assessment.grader_talk:
            notices.append(GRADER_TALK_NOTICE)
        if question.kind in UNRELIABLE_KINDS:
            notices.append(BEHAVIORAL_NOTICE)
        notices += rubric_notices(question)
        return Grade(
            question_id=question.id,
            score=score_points(points),
            points=points,
            feedback=summarise(points),
            grader="offline",
            latency_ms=round((time.perf_counter() - started) * 1000, 1),
            notices=notices,
            rubric_drafted=question.rubric_drafted,
        )

    def assess(self, question: RubricQuestion, answer: str) -> Assessment:
        """Score every rubric point against the answer (CPU-bound; call from a worker thread)."""
        check_gradable(question, answer)
        non_english = looks_non_english(answer)
        unsure = non_english or question.kind in UNRELIABLE_KINDS
        points: list[PointAssessment] = []
        for features in self.features(question, answer):
            score, verdict, margin = decide(features, self.thresholds)
            if unsure:
                margin = 0.0
            evidence = ""
            if verdict != "missing" and features.evidence is not None:
                evidence = answer[features.evidence.start : features.evidence.end]
            points.append(
                PointAssessment(
                    verdict=verdict,
                    score=score,
                    margin=margin,
                    evidence=evidence,
                    comment=_comment(verdict, features),
                )
            )
        return Assessment(
            points=tuple(points),
            non_english=non_english,
            grader_talk=bool(grader_talk_spans(answer)),
        )

    def features(self, question: RubricQuestion, answer: str) -> list[PointFeatures]:
        """Measure each rubric point against the answer's sentences."""
        # Sentences that speak to the grader are not part of the answer.
        sentences = [u for u in split_units(answer) if not addresses_grader(u.text)]
        n = len(sentences)
        if n == 0:
            return [
                PointFeatures(0.0, 0.0, 0.0 if key_terms(p) else None, None, (), None)
                for p in question.rubric
            ]
        # A point is often made across two sentences, so each neighbouring pair is a unit too,
        # encoded as one text. Averaging the two sentence vectors instead is cheaper but agreed
        # less with the labels on held-out questions, so it is kept for very long answers only,
        # where encoding every pair would double seconds of work.
        pairs = [join_units(answer, a, b) for a, b in zip(sentences, sentences[1:], strict=False)]
        encode_pairs = n <= _MAX_ENCODED_PAIRS
        units = sentences + pairs
        clauses = [rubric_clauses(point) for point in question.rubric]
        texts = [u.text for u in (units if encode_pairs else sentences)] + list(question.rubric)
        texts += [c for cs in clauses for c in cs]
        vectors = self.embedder.encode(texts)
        encoded = len(units) if encode_pairs else n
        unit_vecs = vectors[:encoded]
        if not encode_pairs:
            summed = unit_vecs[:-1] + unit_vecs[1:]
            norms = np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-9)
            unit_vecs = np.concatenate([unit_vecs, summed / norms])
        point_vecs = vectors[encoded : encoded + len(question.rubric)]
        clause_vecs = vectors[encoded + len(question.rubric) :]
        out: list[PointFeatures] = []
        clause_at = 0
        for index, point in enumerate(question.rubric):
            sims = unit_vecs @ point_vecs[index]
            n_clauses = len(clauses[index])
            clause_sims = clause_vecs[clause_at : clause_at + n_clauses] @ unit_vecs.T
            clause_at += n_clauses
            sentence_sims = sims[:n]
            best_sentence = int(np.argmax(sentence_sims))
            best_unit = int(np.argmax(sims))
            evidence = sentences[best_sentence]
            if best_unit >= n and sims[best_unit] > sentence_sims[best_sentence] + 0.05:
                evidence = units[best_unit]
            near = np.argsort(-sentence_sims)[:3]
            near_text = " ".join(sentences[int(i)].text for i in near)
            terms = key_terms(point)
            missing = tuple(t.label for t in terms if not t.found_in(near_text))
            results = [t.found_in(near_text) for t in terms if t.kind == "result"]
            out.append(
                PointFeatures(
                    best=float(sims[best_unit]),
                    clauses=float(clause_sims.max(axis=1).mean()),
                    terms=(1 - len(missing) / len(terms)) if terms else None,
                    results=(sum(results) / len(results)) if results else None,
                    missing_terms=missing,
                    evidence=evidence,
                )
            )
        return out

    def relevance(self, point: str, evidence: str) -> float:
        """Return the cosine similarity of a quoted passage and a rubric point."""
        return self.relevances(point, [evidence])[0]

    def relevances(self, point: str, passages: list[str]) -> list[float]:
        """Return the cosine similarity of each passage with a rubric point."""
        vectors = self.embedder.encode([point, *passages])
        return [float(v) for v in vectors[1:] @ vectors[0]]


def _comment(verdict: Verdict, features: PointFeatures) -> str:
    missing = ", ".join(features.missing_terms[:3])
    if verdict == "covered":
        return "Covered." if not missing else f"Covered; not stated: {missing}."
    if verdict == "partial":
        return f"Partly covered; missing: {missing}." if missing else "Partly covered."
    return f"Not found in the answer (key terms: {missing})." if missing else "Not found."
