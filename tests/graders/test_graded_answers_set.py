"""The labeled answers: their shape, the offline grader's agreement, and injection attempts."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from graders.agreement import LabeledAnswer, accuracy, cohen_kappa
from graders.cascade import CascadeGrader
from graders.injection import GraderTalkDetector
from graders.llm import GRADER_TALK_OFFLINE_NOTICE, LLMConfig, LLMGrader
from graders.models import Grade, Grader
from graders.offline import GRADER_TALK_NOTICE, OfflineGrader
from graders.text import grader_talk_spans, without_spans
from tests.support.openai_server import OpenAIServer, RecordedRequest, Reply

CATEGORIES = {
    "strong",
    "partial",
    "wrong",
    "off-topic",
    "buzzword",
    "short",
    "long",
    "non-english",
    "injection",
}
RANK = {"missing": 0, "partial": 1, "covered": 2}


@pytest.fixture(scope="module")
def offline_verdicts(
    labeled_set: list[LabeledAnswer], offline_grader: OfflineGrader
) -> dict[str, list[str]]:
    return {
        item.id: [p.verdict for p in offline_grader.assess(item.question, item.answer).points]
        for item in labeled_set
    }


def test_the_set_covers_enough_questions_sections_and_kinds_of_answer(
    labeled_set: list[LabeledAnswer],
) -> None:
    questions = {item.question.id: item.question for item in labeled_set}
    assert len(labeled_set) >= 80 and len(questions) >= 16
    sections = {re.match(r"E(\d+)-", qid).group(1) for qid in questions}  # type: ignore[union-attr]
    assert len(sections) >= 10
    assert CATEGORIES <= {item.category for item in labeled_set}
    assert {q.kind for q in questions.values()} >= {"concept", "behavioral"}
    per_question = Counter(item.question.id for item in labeled_set)
    assert min(per_question.values()) >= 4
    labels = Counter(label for item in labeled_set for label in item.labels)
    assert all(labels[v] >= 30 for v in ("covered", "partial", "missing"))


def test_offline_agreement_stays_above_the_measured_floor(
    labeled_set: list[LabeledAnswer], offline_verdicts: dict[str, list[str]]
) -> None:
    """A regression guard: the thresholds were fitted on this set (bench/grader_agreement.py).

    Measured when fitted: all points accuracy 0.71, kappa 0.52; English concept answers 0.79,
    kappa 0.65. The floors leave room for small model or tokenizer differences, not for a
    change that makes the grader worse.
    """
    gold = [label for item in labeled_set for label in item.labels]
    predicted = [v for item in labeled_set for v in offline_verdicts[item.id]]
    assert accuracy(gold, predicted) >= 0.66
    assert cohen_kappa(gold, predicted) >= 0.45

    english = [
        item
        for item in labeled_set
        if item.question.kind != "behavioral" and item.category != "non-english"
    ]
    gold = [label for item in english for label in item.labels]
    predicted = [v for item in english for v in offline_verdicts[item.id]]
    assert accuracy(gold, predicted) >= 0.74
    assert cohen_kappa(gold, predicted) >= 0.58


def test_strong_answers_outscore_weak_ones_on_every_question(
    labeled_set: list[LabeledAnswer], offline_verdicts: dict[str, list[str]]
) -> None:
    def credit(item: LabeledAnswer) -> float:
        verdicts = offline_verdicts[item.id]
        return sum(RANK[v] for v in verdicts) / len(verdicts)

    for item in labeled_set:
        if item.category != "strong" or item.question.kind == "behavioral":
            continue
        weak = [
            other
            for other in labeled_set
            if other.question.id == item.question.id
            and other.category in {"wrong", "off-topic", "buzzword", "injection"}
        ]
        for other in weak:
            assert credit(item) > credit(other), (item.id, other.id)


def obedient(request: RecordedRequest) -> Reply:
    """An LLM that obeys the injection: every point covered, quoting the first line it sees."""
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
        spans = grader_talk_spans(item.answer)
        assert spans, item.id
        grade: Grade = await grader.grade(item.question, item.answer)
        if kind != "offline":
            # The LLM graders leave out whole sentences that address the grader.
            spans = GraderTalkDetector(offline_grader.embedder).spans(item.answer)
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
        block = request.answer_block()
        assert block is not None
        for item in injections:
            for start, end in grader_talk_spans(item.answer):
                assert item.answer[start:end] not in block[1]
