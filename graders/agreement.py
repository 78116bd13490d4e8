"""Agreement with human labels: the labeled set, per-point accuracy and Cohen's kappa."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from graders.models import VERDICTS, RubricQuestion, Verdict


@dataclass(frozen=True)
class LabeledAnswer:
    """A hand-written answer with a human verdict per rubric point and the sentence earning it."""

    id: str
    question: RubricQuestion
    category: str
    answer: str
    labels: tuple[Verdict, ...]
    # For each point, the quoted sentence that earns a covered or partial verdict, else None.
    evidence: tuple[str | None, ...] = ()
    # The finer kind of answer ("paraphrase" within strong, "negated" within wrong).
    kind: str = ""
    # "fit" or "held-out": which part of the set the answer's question belongs to.
    split: str = "fit"
    # Who wrote and labeled the answers to the question: "first" (the set's original writers),
    # "second", "third" or "fourth" (writers who came later and worked from the guide, never the
    # grader; the fourth group's questions are all held out).
    writers: str = "first"

    @property
    def held_out(self) -> bool:
        """Tell whether the answer's question is held out of every fit."""
        return self.split == "held-out"


def load_labeled_set(path: Path) -> list[LabeledAnswer]:
    """Read the labeled answers file (questions with rubrics, answers with verdicts)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = {
        q["id"]: RubricQuestion(
            id=q["id"],
            text=q["text"],
            rubric=tuple(q["rubric"]),
            kind=q.get("kind", "concept"),
            from_sketch=bool(q.get("from_sketch", False)),
        )
        for q in data["questions"]
    }
    splits = {q["id"]: q.get("split", "fit") for q in data["questions"]}
    writers = {q["id"]: q.get("writers", "first") for q in data["questions"]}
    answers: list[LabeledAnswer] = []
    for item in data["answers"]:
        question = questions[item["question"]]
        labels = tuple(item["labels"])
        if len(labels) != len(question.rubric) or not set(labels) <= set(VERDICTS):
            raise ValueError(f"{item['id']}: labels {labels} do not fit {question.id}'s rubric")
        evidence = tuple(item.get("evidence") or [None] * len(labels))
        if len(evidence) != len(labels):
            raise ValueError(f"{item['id']}: one evidence entry per point is needed")
        for label, quote in zip(labels, evidence, strict=True):
            if (label == "missing") != (quote is None) or (quote and quote not in item["answer"]):
                raise ValueError(f"{item['id']}: evidence {quote!r} does not fit label {label}")
        answers.append(
            LabeledAnswer(
                id=item["id"],
                question=question,
                category=item["category"],
                answer=item["answer"],
                labels=labels,
                evidence=evidence,
                kind=item.get("kind", item["category"]),
                split=splits[question.id],
                writers=writers[question.id],
            )
        )
    return answers


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Return the share of items where the prediction equals the label."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    if not gold:
        return 0.0
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def cohen_kappa(
    gold: Sequence[str], predicted: Sequence[str], categories: Iterable[str] = VERDICTS
) -> float:
    """Return Cohen's kappa: agreement beyond what the two label distributions give by chance."""
    cats = list(categories)
    n = len(gold)
    if n == 0 or n != len(predicted):
        raise ValueError("need two label sequences of the same, non-zero length")
    observed = accuracy(gold, predicted)
    expected = sum((gold.count(c) / n) * (predicted.count(c) / n) for c in cats)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def load_check_set(path: Path, questions_from: Path) -> list[LabeledAnswer]:
    """Read a small check file of labeled answers (no evidence) to the labeled set's questions."""
    bank = {a.question.id: a.question for a in load_labeled_set(questions_from)}
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out: list[LabeledAnswer] = []
    for item in data["answers"]:
        question = bank[item["question"]]
        labels = tuple(item["labels"])
        if len(labels) != len(question.rubric) or not set(labels) <= set(VERDICTS):
            raise ValueError(f"{item['id']}: labels {labels} do not fit {question.id}'s rubric")
        out.append(
            LabeledAnswer(
                id=item["id"],
                question=question,
                category=item["category"],
                answer=item["answer"],
                labels=labels,
                kind=item.get("kind", item["category"]),
                split="check",
            )
        )
    return out
