"""The offline grader: sentence embeddings plus claim checks, combined by a calibrated model.

For each rubric point it measures, against the answer's sentences (and neighbouring pairs, since
a point is often made across two):

- how close in meaning the best sentence is to the whole point, and to each of its clauses (a
  point with three claims is covered by an answer that makes all three);
- what the best supporting sentence does with the point's claim (`graders.claims`): whether it
  states the point's words and relation, its key terms in any recognised form (TP / tensor
  parallel, 4K / 4096), its figures, or contradicts it (negation in scope, reversed direction,
  another figure for the same quantity);
- whether the answer is about the question at all;
- how much of the supporting sentence is about the point, how well the answer states the point's
  best-stated clause, and the answer's averages over all its points (a padded answer names terms
  everywhere and states little anywhere).

A multinomial logistic regression fitted on labeled answers (`graders.verdict_model`, fitted by
`bench/grader_agreement.py --calibrate`, weights shipped as JSON) turns these into the
probability of each verdict. There is no hand-set threshold: the verdict is the most probable
one, and the cascade asks the LLM about points whose verdict is less probable than the fitted
cut-off.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from graders.alignment import NAMES as ALIGNMENT
from graders.alignment import point_alignment
from graders.claims import (
    ClaimCheck,
    best_support,
    check_claim,
    figures_stated,
    gloss,
    on_point,
    term_bag,
    terms_absent,
    word_coverage,
)
from graders.embeddings import Embedder, default_embedder
from graders.injection import GraderTalkDetector, overlaps
from graders.models import (
    Grade,
    PointGrade,
    RubricQuestion,
    Verdict,
    rubric_notices,
    score_points,
    summarise,
)
from graders.roles import contrasted
from graders.text import (
    Unit,
    check_gradable,
    join_units,
    looks_non_english,
    split_units,
    visible_text,
)
from graders.verdict_model import VerdictModel, default_model

NON_ENGLISH_NOTICE = (
    "This answer does not look like English; the offline grader compares meaning in English "
    "only, so points may have been missed."
)
# Story questions are judged on structure and ownership, which sentence similarity cannot see:
# their offline verdicts are a rough guide and the cascade always asks the LLM about them.
UNRELIABLE_KINDS = frozenset({"behavioral"})
GRADER_TALK_NOTICE = (
    "Sentences addressed to the grader were ignored; only the answer to the question is graded, "
    "and partly covered points count as missing."
)
BEHAVIORAL_NOTICE = (
    "Story answers are judged on structure and specifics, which the offline grader can only "
    "approximate; treat these verdicts as a rough guide."
)
# How many of the most similar sentences the claim checks read for each point.
_CANDIDATES = 3


@dataclass(frozen=True)
class PointFeatures:
    """What the offline grader measured for one rubric point."""

    values: dict[str, float]
    # The sentence (or pair of sentences) that best supports the point, if any.
    evidence: Unit | None
    # The claim check on the supporting sentence.
    check: ClaimCheck | None
    # The point's key terms the answer states in no recognised form.
    absent_terms: tuple[str, ...] = ()
    # Why the nearest sentences contradict the point, if they do.
    conflicts: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class PointAssessment:
    """The offline verdict on one point, its expected credit and how sure the model is."""

    verdict: Verdict
    # Expected credit under the model: P(covered) + P(partial) / 2.
    score: float
    # The probability of the verdict given; the cascade asks the LLM when it is low.
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


# Features averaged over all the answer's points: a padded answer names terms everywhere and
# states little anywhere, which one point alone does not show.
_ANSWER_MEANS = (
    "support_sim",
    "sim_best",
    "coverage",
    "relation",
    "frame_gap",
    "vague",
    "listy",
)


def _empty_features(point: str) -> PointFeatures:
    values = dict.fromkeys(
        (
            "sim_best sim_sentence clause_mean clause_min sim_question support_sim coverage "
            "relation coverage_answer terms terms_answer numbers negation direction "
            "number_conflict conflict_near support_x_conflict log_words has_terms has_numbers"
        ).split(),
        0.0,
    )
    values.update(own_margin=0.0, vague=0.0, listy=0.0, support_words=0.0, pair_gain=0.0)
    values.update(top_conflict=0.0, top_x_conflict=0.0, support_gap=0.0)
    values.update(frame_gap=0.0, clause_max=0.0, clause_coverage=0.0, on_point=0.0)
    values.update({f"mean_{name}": 0.0 for name in _ANSWER_MEANS})
    values.update(dict.fromkeys(ALIGNMENT, 0.0))
    return PointFeatures(values, None, None, terms_absent(point, ""))


# Predicates that assert only that something is relevant or popular, not what it does: "X
# matters", "it's about Y", "Z comes into it", "X is what people use". A sentence made of them
# names terms without substance.
_VAGUE = re.compile(
    r"\b(?:is|are|'s)\s+(?:all\s+)?(?:about|involved|important|key|relevant|related|"
    r"a (?:thing|consideration|big deal|factor|key word)|part of|the main (?:idea|point|thing))\b"
    r"|\b(?:matters?|come(?:s)? into (?:it|play)|plays? a role|key words?|"
    r"(?:is|are) (?:also )?(?:relevant|important|involved))\b"
    r"|\b(?:is|are|'s) what (?:people|you|we|teams|everyone|most people) (?:use|want|pick|"
    r"choose|prefer)\b|\bwhy (?:people|teams|everyone) (?:use|prefer|pick|choose|like)\b",
    re.IGNORECASE,
)


def _listiness(text: str) -> float:
    """Return how much of a sentence is a bare list (commas and "and" per word)."""
    words = text.split()
    if not words:
        return 0.0
    joins = text.count(",") + sum(w.lower() in ("and", "or") for w in words)
    return joins / len(words)


def rubric_clauses(point: str) -> list[str]:
    """Split a rubric point into its separate claims (short fragments join their neighbour)."""
    clauses: list[str] = []
    for piece in re.split(r";\s+|\s+[—–]\s+|\s*→\s*|\.\s+", point):
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


def _states_another_point(
    rubric: tuple[str, ...],
    index: int,
    sims: np.ndarray,
    sentence: str,
    contrast: tuple[str, ...],
) -> bool:
    """Tell whether a sentence is closest to another point of the rubric and agrees with it."""
    best = int(np.argmax(sims))
    if best == index:
        return False
    other = check_claim(rubric[best], sentence, contrast=contrast, rubric=rubric)
    return other.verdict != "contradicts"


class OfflineGrader:
    """Grades against the rubric with embeddings, claim checks and a calibrated model, offline."""

    name = "offline"

    def __init__(self, embedder: Embedder | None = None, model: VerdictModel | None = None) -> None:
        self._embedder = embedder
        self._model = model
        self._talk: GraderTalkDetector | None = None

    @property
    def embedder(self) -> Embedder:
        """Return the sentence embedder (the process-wide one unless another was given)."""
        if self._embedder is None:
            self._embedder = default_embedder()
        return self._embedder

    @property
    def model(self) -> VerdictModel:
        """Return the verdict model (the shipped one unless another was given)."""
        if self._model is None:
            self._model = default_model()
        return self._model

    @property
    def talk_detector(self) -> GraderTalkDetector:
        """Return the detector of sentences addressed to the grader (patterns and meaning)."""
        if self._talk is None:
            self._talk = GraderTalkDetector(self.embedder)
        return self._talk

    def talk_spans(self, answer: str) -> list[tuple[int, int]]:
        """Return the spans of the answer's sentences that speak to the grader (CPU-bound).

        The sentences are the units the grader reads, so the encoder's cache serves both.
        """
        units = split_units(answer)
        flags = self.talk_detector.flags([u.text for u in units])
        return [(u.start, u.end) for u, flag in zip(units, flags, strict=True) if flag]

    @property
    def clear_margin(self) -> float:
        """Return the verdict probability below which the cascade asks the LLM."""
        return self.model.confident_at

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
        """Decide every rubric point of the answer (CPU-bound; call from a worker thread)."""
        check_gradable(question, answer)
        non_english = looks_non_english(answer)
        unsure = non_english or question.kind in UNRELIABLE_KINDS
        model = self.model
        spans = self.talk_spans(answer)
        talk = bool(spans)
        points: list[PointAssessment] = []
        for features in self.features(question, answer, talk=spans):
            verdict, probs = decide_point(
                model, features.values, grader_talk=talk, kind=question.kind
            )
            margin = 0.0 if unsure else probs[verdict]
            evidence = ""
            if verdict != "missing" and features.evidence is not None:
                evidence = answer[features.evidence.start : features.evidence.end]
            points.append(
                PointAssessment(
                    verdict=verdict,
                    score=probs["covered"] + 0.5 * probs["partial"],
                    margin=margin,
                    evidence=evidence,
                    comment=_comment(verdict, features),
                )
            )
        return Assessment(
            points=tuple(points),
            non_english=non_english,
            grader_talk=talk,
        )

    def assess_many(
        self, pairs: Iterable[tuple[RubricQuestion, str]], *, chunk: int = 256
    ) -> Iterator[Assessment]:
        """Assess many answers in order, encoding each chunk's sentences in one pass first.

        One pass over a few hundred answers' sentences pads far less than one per answer (the
        encoder sorts a pass by length): grading the 1,024 labeled answers took a fifth less
        time (99 s to 79 s on two cores). The sentences then come from the embedder's cache, so
        every assessment is what `assess` gives (a score may differ in its last bits, as a pass
        pads its texts to its longest). A chunk stays well inside the cache.
        """
        batch: list[tuple[RubricQuestion, str]] = []
        for pair in pairs:
            batch.append(pair)
            if len(batch) == chunk:
                yield from self._assess_chunk(batch)
                batch = []
        yield from self._assess_chunk(batch)

    def _assess_chunk(self, batch: list[tuple[RubricQuestion, str]]) -> Iterator[Assessment]:
        texts: dict[str, None] = {}
        for _, answer in batch:
            for unit in split_units(answer):
                texts[unit.text] = None
                texts[visible_text(unit.text)] = None
        if texts:
            self.embedder.encode(list(texts))
        for question, answer in batch:
            yield self.assess(question, answer)

    def features(
        self,
        question: RubricQuestion,
        answer: str,
        *,
        talk: list[tuple[int, int]] | None = None,
    ) -> list[PointFeatures]:
        """Measure each rubric point against the answer's sentences.

        `talk` gives the spans of sentences addressed to the grader, when already found.
        """
        # Sentences that speak to the grader are not part of the answer.
        spans = self.talk_spans(answer) if talk is None else talk
        sentences = [u for u in split_units(answer) if not overlaps((u.start, u.end), spans)]
        n = len(sentences)
        if n == 0:
            return [_empty_features(p) for p in question.rubric]
        answer_text = " ".join(u.text for u in sentences)
        clauses = [rubric_clauses(point) for point in question.rubric]
        flat_clauses = [c for cs in clauses for c in cs]
        # Points and clauses are encoded as written and with their abbreviations spelt out
        # ("Q" as "query", "N(0,1)" as "standard normal"), and compared through the mean of the
        # two vectors, so an answer that uses the words rather than the symbols is not penalised.
        # Both are encoded once per process (the embedder caches them).
        point_texts = list(question.rubric) + flat_clauses
        glossed = [gloss(t) for t in point_texts]
        # Each point's words as a bare list, to tell a sentence that states the claim from one
        # that names its terms (encoded once per process, like the points).
        bags = [term_bag(p) for p in question.rubric]
        texts = [u.text for u in sentences] + point_texts + glossed + bags
        texts.append(question.text or question.rubric[0])
        vectors = self.embedder.encode(texts)
        # The same pass gave the word pieces: the answer's sentences, the glossed points and
        # clauses (cached, so this encodes nothing again).
        sentence_tokens = self.embedder.tokens([u.text for u in sentences])
        glossed_tokens = self.embedder.tokens(glossed)
        bag_vecs = vectors[n + 2 * len(point_texts) : n + 2 * len(point_texts) + len(bags)]
        sent_vecs = vectors[:n]
        count = len(point_texts)
        both = vectors[n : n + count] + vectors[n + count : n + 2 * count]
        both = both / np.maximum(np.linalg.norm(both, axis=1, keepdims=True), 1e-9)
        point_vecs = both[: len(question.rubric)]
        clause_vecs = both[len(question.rubric) :]
        question_vec = vectors[-1]
        # A point made across two sentences: each neighbouring pair is a unit too, its vector
        # the normalised sum of the two (encoding every pair would double the work per answer).
        if n > 1:
            summed = sent_vecs[:-1] + sent_vecs[1:]
            pair_vecs = summed / np.maximum(np.linalg.norm(summed, axis=1, keepdims=True), 1e-9)
            unit_vecs = np.concatenate([sent_vecs, pair_vecs])
        else:
            unit_vecs = sent_vecs
        sim_question = float((sent_vecs @ question_vec).max())
        log_words = math.log1p(len(answer_text.split()))
        # The things the question sets against each other ("prefill" and "decode"): a claim said
        # of the wrong one is a contradiction.
        contrast = contrasted(question.text, question.rubric)
        out: list[PointFeatures] = []
        clause_at = 0
        for index, point in enumerate(question.rubric):
            sims = unit_vecs @ point_vecs[index]
            sentence_sims = sims[:n]
            count = len(clauses[index])
            clause_best = (clause_vecs[clause_at : clause_at + count] @ unit_vecs.T).max(axis=1)
            clause_at += count
            near = [int(i) for i in np.argsort(-sentence_sims)[:_CANDIDATES]]
            near_texts = [sentences[i].text for i in near]
            support = best_support(
                point,
                near_texts,
                [float(sentence_sims[i]) for i in near],
                contrast=contrast,
                rubric=question.rubric,
            )
            assert support is not None
            chosen = near[support.index]
            check = support.check
            conflicts: list[str] = []
            conflict_near = 0.0
            top_check = (
                check
                if near[0] == chosen
                else check_claim(point, near_texts[0], contrast=contrast, rubric=question.rubric)
            )
            top_conflict = max(
                top_check.negation_conflict,
                top_check.direction_conflict,
                top_check.number_conflict,
            )
            reversed_or_figure = max(top_check.direction_conflict, top_check.number_conflict)
            if (
                top_conflict
                and reversed_or_figure < 0.5
                and _states_another_point(
                    question.rubric, index, point_vecs @ sent_vecs[near[0]], near_texts[0], contrast
                )
            ):
                # The sentence states another point of the rubric, which may say the opposite of
                # this one ("standard softmax needs the whole row" against "online softmax needs
                # no full row"): it answers that point, and the words it shares with this one
                # are no denial of it. A reversed direction or another figure still counts.
                top_conflict = 0.0
            top = float(sentence_sims[near[0]])
            for i, text in zip(near, near_texts, strict=True):
                if float(sentence_sims[i]) < top - 0.15:
                    continue
                other = (
                    check
                    if i == chosen
                    else check_claim(point, text, contrast=contrast, rubric=question.rubric)
                )
                strength = max(other.negation_conflict, other.direction_conflict)
                strength = max(strength, other.number_conflict)
                if strength > conflict_near:
                    conflict_near = strength
                if strength >= 0.5:
                    conflicts.extend(other.reasons)
            whole = check_claim(point, answer_text)
            absent = terms_absent(point, answer_text)
            evidence = sentences[chosen]
            best_unit = int(np.argmax(sims))
            if best_unit >= n and best_unit - n in (chosen, chosen - 1):
                # The claim is made across two sentences: quote both.
                first = best_unit - n
                if float(sims[best_unit]) > float(sentence_sims[chosen]) + 0.05:
                    evidence = join_units(answer, sentences[first], sentences[first + 1])
            others = [j for j in range(len(question.rubric)) if j != index]
            own_margin = 0.0
            if others:
                rival = float((point_vecs[others] @ sent_vecs[chosen]).max())
                own_margin = float(sentence_sims[chosen]) - rival
            support_conflict = max(check.negation_conflict, check.direction_conflict)
            support_conflict = max(support_conflict, check.number_conflict)
            values = {
                "sim_best": float(sims.max()),
                "sim_sentence": top,
                "clause_mean": float(clause_best.mean()),
                "clause_min": float(clause_best.min()),
                "sim_question": sim_question,
                "support_sim": float(sentence_sims[chosen]),
                "coverage": check.coverage,
                "relation": check.relation,
                "coverage_answer": whole.coverage,
                "terms": check.terms if check.terms is not None else 0.0,
                "has_terms": 1.0 if check.terms is not None else 0.0,
                "terms_answer": whole.terms if whole.terms is not None else 0.0,
                "numbers": check.numbers if check.numbers is not None else 0.0,
                "has_numbers": 1.0 if check.numbers is not None else 0.0,
                "negation": check.negation_conflict,
                "direction": check.direction_conflict,
                "number_conflict": check.number_conflict,
                "conflict_near": conflict_near,
                "support_x_conflict": float(sentence_sims[chosen]) * support_conflict,
                "log_words": log_words,
                "own_margin": own_margin,
                "vague": 1.0 if _VAGUE.search(sentences[chosen].text) else 0.0,
                "listy": _listiness(sentences[chosen].text),
                "support_words": math.log1p(len(sentences[chosen].text.split())),
                "pair_gain": float(sims.max()) - top,
                "top_conflict": top_conflict,
                "top_x_conflict": top * top_conflict,
                "support_gap": top - float(sentence_sims[chosen]),
                # States the claim (closer to the point) or names its words (closer to the bare
                # list of them): the substance of the supporting sentence.
                "frame_gap": float(sentence_sims[chosen])
                - float(bag_vecs[index] @ sent_vecs[chosen]),
            }
            # The clause the answer states best, and how much of its words the answer states:
            # one half of a two-part point is a partial answer.
            values["clause_max"] = float(clause_best.max())
            values["clause_coverage"] = max(
                word_coverage(clause, sentences[chosen].text) for clause in clauses[index]
            )
            values["on_point"] = on_point(point, sentences[chosen].text)
            values.update(
                point_alignment(
                    glossed_tokens[index],
                    glossed_tokens[len(question.rubric) + clause_at - count :][:count],
                    sentence_tokens,
                )
            )
            # Not a model feature: read by the substance rule in `decide_point`.
            stated = figures_stated(point, answer_text)
            values["figures_stated"] = -1.0 if stated is None else stated
            out.append(PointFeatures(values, evidence, check, absent, tuple(conflicts)))
        for name in _ANSWER_MEANS:
            mean = float(np.mean([f.values[name] for f in out]))
            for features in out:
                features.values[f"mean_{name}"] = mean
        return out

    def relevance(self, point: str, evidence: str) -> float:
        """Return the cosine similarity of a quoted passage and a rubric point."""
        return self.relevances(point, [evidence])[0]

    def relevances(self, point: str, passages: list[str]) -> list[float]:
        """Return the cosine similarity of each passage with a rubric point."""
        vectors = self.embedder.encode([point, *passages])
        return [float(v) for v in vectors[1:] @ vectors[0]]


def decide_point(
    model: VerdictModel,
    values: dict[str, float],
    *,
    grader_talk: bool = False,
    kind: str = "concept",
) -> tuple[Verdict, dict[Verdict, float]]:
    """Return the verdict on one point and the model's probability of each verdict.

    The model's most probable verdict stands, with two rules on what the answer asserts:
    a point contradicted by the sentence closest to it (a negation, a reversed direction, another
    figure) earns nothing, however close the wording; a point that asserts figures is at most
    partly covered by an answer that states none of them; and an answer that addresses the grader
    gets no benefit of the doubt, so its partly covered points count as missing. Story questions'
    points ask about qualities ("are the numbers specific?"), not claims, so no contradiction
    rule applies to them.
    """
    verdict, probs = model.decide(values)
    if values.get("top_conflict", 0.0) >= 0.5 and kind not in UNRELIABLE_KINDS:
        verdict = "missing"
    elif verdict == "covered" and values.get("figures_stated", -1.0) == 0.0:
        # The point asserts figures ("13 GB", "320 KB") and the answer states none of them:
        # the relation without its substance is partial at most.
        verdict = "partial"
    elif grader_talk and verdict == "partial":
        verdict = "missing"
    return verdict, probs


def _comment(verdict: Verdict, features: PointFeatures) -> str:
    """Write the point's feedback; "not stated" names only terms absent in every form."""
    absent = ", ".join(features.absent_terms[:3])
    conflict = features.conflicts[0] if features.conflicts else ""
    if verdict == "covered":
        return "Covered." if not absent else f"Covered; not stated: {absent}."
    if verdict == "partial":
        if conflict:
            return f"Partly covered; the answer {conflict}."
        if absent:
            return f"Partly covered; not stated: {absent}."
        return "Partly covered: the answer touches this without stating all of it."
    if conflict:
        return f"Not covered: the answer {conflict}."
    return f"Not found in the answer (not stated: {absent})." if absent else "Not found."


_WARM = threading.Event()
_WARMING = threading.Lock()


def warm_up(embedder: Embedder | None = None) -> threading.Thread:
    """Load the sentence encoder and verdict model in a background thread; return the thread.

    Call it when the bot starts, so the first answer does not wait for the model to load; a
    second call while (or after) the first runs starts nothing new.
    """

    def run() -> None:
        with _WARMING:
            if _WARM.is_set():
                return
            default_model()
            (embedder or default_embedder()).encode(["warm up the sentence encoder"])
            _WARM.set()

    # Not a daemon: a process that quits while the encoder loads waits for the load (well under
    # a second once exported) rather than leaving ONNX Runtime mid-construction at exit, which
    # aborts the process ("terminate called without an active exception").
    thread = threading.Thread(target=run, name="grader-warm-up", daemon=False)
    thread.start()
    return thread


def warmed_up() -> bool:
    """Tell whether `warm_up` has finished loading the models in this process."""
    return _WARM.is_set()
