"""The labeled answers: their shape and split, the offline grader's agreement, known failures."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from graders.agreement import LabeledAnswer, accuracy, cohen_kappa
from graders.cascade import CascadeGrader
from graders.injection import CLASSIFY_RULES
from graders.llm import GRADER_TALK_OFFLINE_NOTICE, LLMConfig, LLMGrader
from graders.models import Grade, Grader
from graders.offline import GRADER_TALK_NOTICE, OfflineGrader
from graders.text import without_spans
from graders.verdict_model import default_model
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply

CATEGORIES = {
    "strong",
    "padded",
    "wrong",
    "partial",
    "off-topic",
    "terse",
    "non-english",
    "injection",
}
RANK = {"missing": 0, "partial": 1, "covered": 2}
# Measured on the held-out English answers with the shipped model: accuracy 0.660,
# kappa 0.461, wrong answers over-credited on 40% of their points (the first writers' answers
# 0.778 / 0.644, the second writers' 0.669 / 0.467, the third writers' 0.609 / 0.413, the
# fourth writers', none of them fitted, 0.633 / 0.416). The first writers' floor guards the part
# the claim checks were built on, where a regression shows most clearly. (Before the word-piece
# alignment features: 0.648 / 0.441 overall, first writers 0.795 / 0.668, third 0.584 / 0.375,
# fourth 0.613 / 0.383; the refit traded four of the first writers' 239 points for gains on
# every later writer and on the fresh check answers.)
FLOOR_ACCURACY = 0.645
FLOOR_KAPPA = 0.44
FLOOR_WRONG_OVER = 0.45
FLOOR_FIRST_WRITERS = (0.76, 0.62)
# Grading the whole set once (the module's fixture, charged to its first test) takes about 80 s
# on an idle two-core machine and several times that on a loaded one; the suite's 300 s limit is
# for a test that hangs, not for this.
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def offline_grades(
    labeled_set: list[LabeledAnswer], offline_grader: OfflineGrader
) -> dict[str, Grade]:
    assessments = offline_grader.assess_many((item.question, item.answer) for item in labeled_set)
    return {
        item.id: offline_grader.grade_from(item.question, assessment, started=0.0)
        for item, assessment in zip(labeled_set, assessments, strict=True)
    }


def test_the_set_covers_enough_questions_sections_and_kinds_of_answer(
    labeled_set: list[LabeledAnswer],
) -> None:
    questions = {item.question.id: item.question for item in labeled_set}
    assert len(labeled_set) >= 240 and len(questions) >= 48
    sections = {re.match(r"E(\d+)-", qid).group(1) for qid in questions}  # type: ignore[union-attr]
    assert sections == {str(n) for n in range(1, 14)}
    assert CATEGORIES <= {item.category for item in labeled_set}
    assert {q.kind for q in questions.values()} == {"concept", "coding", "behavioral"}
    assert all(q.from_sketch for q in questions.values() if q.kind == "coding")
    per_question = Counter(item.question.id for item in labeled_set)
    assert min(per_question.values()) >= 5
    labels = Counter(label for item in labeled_set for label in item.labels)
    assert all(labels[v] >= 100 for v in ("covered", "partial", "missing"))


def test_every_credited_point_quotes_the_sentence_that_earns_it(
    labeled_set: list[LabeledAnswer],
) -> None:
    for item in labeled_set:
        for label, quote in zip(item.labels, item.evidence, strict=True):
            if label == "missing":
                assert quote is None, item.id
            else:
                assert quote and quote in item.answer, item.id


def test_questions_not_answers_are_split_and_the_held_out_part_is_real(
    labeled_set: list[LabeledAnswer],
) -> None:
    split_of: dict[str, set[str]] = {}
    for item in labeled_set:
        split_of.setdefault(item.question.id, set()).add(item.split)
    assert all(len(splits) == 1 for splits in split_of.values())
    held = [q for q, splits in split_of.items() if splits == {"held-out"}]
    # The fourth writers are held out whole (a group nothing fitted has seen); the others are
    # split by question, most of them fitted.
    writers = {item.question.id: item.writers for item in labeled_set}
    assert all(q in held for q, w in writers.items() if w == "fourth")
    fitted_groups = [q for q, w in writers.items() if w != "fourth"]
    held_among_them = [q for q in fitted_groups if q in held]
    assert len(held_among_them) >= 12 and len(held_among_them) <= len(fitted_groups) // 2
    held_sections = {q.split("-")[0] for q in held}
    assert len(held_sections) == 13
    kinds = {item.category for item in labeled_set if item.held_out}
    assert CATEGORIES <= kinds


def test_the_shipped_model_never_saw_the_held_out_questions(
    labeled_set: list[LabeledAnswer],
) -> None:
    fitted = default_model().fitted_on or {}
    fit_questions = {item.question.id for item in labeled_set if not item.held_out}
    assert fitted.get("questions") == len(fit_questions)
    fit_points = sum(
        len(item.labels)
        for item in labeled_set
        if not item.held_out and item.category != "non-english"
    )
    assert fitted.get("points") == fit_points


def test_answers_were_not_written_from_the_rubric_words(labeled_set: list[LabeledAnswer]) -> None:
    """Paraphrases carry the meaning without the rubric's literal tokens."""
    paraphrase = next(item for item in labeled_set if item.id == "E1-008-paraphrase")
    assert "0,1" not in paraphrase.answer and "d_model" not in paraphrase.answer
    copied = 0
    for item in labeled_set:
        for point in item.question.rubric:
            if len(point) > 40 and point.lower() in item.answer.lower():
                copied += 1
    assert copied == 0


def test_held_out_agreement_stays_above_the_measured_floor(
    labeled_set: list[LabeledAnswer], offline_grades: dict[str, Grade]
) -> None:
    """A regression guard on questions no weight was fitted to (bench/grader_agreement.py).

    The floors sit a little under what the bench measured when the model was fitted, to allow
    for small tokenizer or library differences, not for a change that makes the grader worse.
    """

    def agreement(items: list[LabeledAnswer]) -> tuple[float, float]:
        gold = [label for item in items for label in item.labels]
        predicted = [p.verdict for item in items for p in offline_grades[item.id].points]
        return accuracy(gold, predicted), cohen_kappa(gold, predicted)

    english = [i for i in labeled_set if i.held_out and i.category != "non-english"]
    acc, kappa = agreement(english)
    assert acc >= FLOOR_ACCURACY
    assert kappa >= FLOOR_KAPPA
    acc, kappa = agreement([item for item in english if item.writers == "first"])
    assert acc >= FLOOR_FIRST_WRITERS[0]
    assert kappa >= FLOOR_FIRST_WRITERS[1]
    keyword_like = [item for item in english if item.category in ("wrong",)]
    over = sum(
        RANK[p.verdict] > RANK[label]
        for item in keyword_like
        for p, label in zip(offline_grades[item.id].points, item.labels, strict=True)
    )
    points = sum(len(item.labels) for item in keyword_like)
    assert over / points <= FLOOR_WRONG_OVER


def test_the_fresh_check_answers_fit_their_rubrics_and_are_never_fitted() -> None:
    from pathlib import Path

    from graders.agreement import load_check_set

    data = Path(__file__).resolve().parents[1] / "data"
    fresh = load_check_set(data / "fresh_answers.yaml", data / "graded_answers.yaml")
    assert len(fresh) >= 20
    assert {a.split for a in fresh} == {"check"}
    assert {"strong", "wrong", "padded", "partial"} <= {a.category for a in fresh}
    assert sum(a.kind == "role-swap" for a in fresh) >= 3


def test_negated_answers_do_not_score_high(
    labeled_set: list[LabeledAnswer], offline_grades: dict[str, Grade]
) -> None:
    for answer_id in ("E3-082-negated", "E1-003-negated"):
        grade = offline_grades[answer_id]
        assert grade.score <= 1 / 3, (answer_id, [p.verdict for p in grade.points])
        assert "All 3 rubric points covered" not in grade.feedback


def test_a_paraphrase_without_the_literal_tokens_gets_credit(
    offline_grades: dict[str, Grade],
) -> None:
    grade = offline_grades["E1-008-paraphrase"]
    assert grade.score >= 2 / 3, [p.verdict for p in grade.points]
    for point in grade.points:
        assert "0,1" not in point.comment and "d_model" not in point.comment


def test_terms_stated_in_other_words_are_never_called_absent(
    labeled_set: list[LabeledAnswer], offline_grades: dict[str, Grade]
) -> None:
    strong = next(item for item in labeled_set if item.id == "E3-082-strong")
    for point in offline_grades[strong.id].points:
        for term in ("70B", "4K", "TP"):
            assert f"not stated: {term}" not in point.comment
            assert not re.search(rf"not stated:[^.]*\b{term}\b", point.comment), point.comment


def test_credited_points_quote_a_sentence_of_the_answer(
    labeled_set: list[LabeledAnswer], offline_grades: dict[str, Grade]
) -> None:
    for item in labeled_set:
        for point in offline_grades[item.id].points:
            if point.verdict == "missing":
                assert point.evidence == ""
            else:
                assert point.evidence and point.evidence in item.answer, item.id


def test_strong_answers_outscore_wrong_and_off_topic_ones(
    labeled_set: list[LabeledAnswer], offline_grades: dict[str, Grade]
) -> None:
    """Off-topic answers always score below a strong one; wrong ones nearly always do.

    The later writers' wrong answers contradict by antonym and world knowledge ("starts the LR
    at its peak", "post-norm", "randomized encryption for join keys"), which no claim check
    reads reliably offline: measured, strong above wrong in 86 of 98 pairs (all 50 of the first
    writers'), and a wrong answer above the strong one in 3. The fourth writers' wrong answers
    (swapped roles and mechanisms in spoken, non-native and note-taking styles) bring it to 114 of
    150, and 5 below.
    """
    above = below = pairs = 0
    for item in labeled_set:
        if item.category != "strong" or item.question.kind == "behavioral":
            continue
        for other in labeled_set:
            if other.question.id != item.question.id:
                continue
            strong, rival = offline_grades[item.id].score, offline_grades[other.id].score
            if other.category == "off-topic":
                assert strong > rival, (item.id, other.id)
            elif other.category == "wrong":
                if item.writers == "first":
                    assert strong > rival, (item.id, other.id)
                pairs += 1
                above += strong > rival
                below += strong < rival
    assert above / pairs >= 0.72 and below / pairs <= 0.06


def obedient(request: RecordedRequest) -> Reply:
    """An LLM that obeys the injection: every point covered, quoting the first line it sees.

    Asked which sentences address the grader (an answer the encoder cannot read, such as code
    alone), it obeys too and names none.
    """
    if request.messages[0]["content"] == CLASSIFY_RULES:
        return Reply.chat_json({"sentences": []})
    block = request.answer_block()
    assert block is not None
    quote = block[1].splitlines()[0]
    numbers = request.point_ids()
    return Reply.chat_json(
        {
            "points": [
                {
                    "point": n,
                    "reasoning": "r",
                    "verdict": "covered",
                    "evidence": quote,
                    "comment": "c",
                }
                for n in numbers
            ]
        }
    )


@pytest.mark.parametrize("kind", ["offline", "llm", "cascade"])
async def test_injection_answers_gain_nothing_from_the_injection(
    kind: str,
    labeled_set: list[LabeledAnswer],
    offline_grader: OfflineGrader,
    openai_server: OpenAIServer,
) -> None:
    openai_server.respond_with(obedient)
    config = LLMConfig(base_url=openai_server.base_url, model="m", max_retries=0)
    graders: dict[str, Grader] = {
        "offline": offline_grader,
        "llm": LLMGrader(config, offline=offline_grader),
        "cascade": CascadeGrader(config, offline=offline_grader),
    }
    grader = graders[kind]
    injections = [item for item in labeled_set if item.category == "injection"]
    assert len(injections) >= 8
    for item in injections:
        # Every injection in the set is found, however its writer addressed the grader.
        spans = offline_grader.talk_spans(item.answer)
        assert spans, item.id
        grade: Grade = await grader.grade(item.question, item.answer)
        if kind != "offline":
            # The LLM graders leave out whole sentences that address the grader.
            spans = offline_grader.talk_detector.spans(item.answer)
        clean = await offline_grader.grade(item.question, without_spans(item.answer, spans))
        for with_injection, without, label in zip(
            grade.points, clean.points, item.labels, strict=True
        ):
            # No more than the answer earns without the injection, by its label or offline.
            earned = max(RANK[without.verdict], RANK[label])
            assert RANK[with_injection.verdict] <= earned, item.id
        for point in grade.points:
            assert not any(
                start < end and item.answer[start:end] in point.evidence for start, end in spans
            ), item.id
        told = {GRADER_TALK_NOTICE, GRADER_TALK_OFFLINE_NOTICE} & set(grade.notices)
        assert told, item.id
    # The LLM is shown the answer as if the injected sentences were absent.
    for request in openai_server.chat_requests:
        if request.messages[0]["content"] == CLASSIFY_RULES:
            continue
        block = request.answer_block()
        assert block is not None
        for item in injections:
            for start, end in offline_grader.talk_detector.spans(item.answer):
                assert item.answer[start:end] not in block[1]
