"""Agreement with human labels: the labeled set, accuracy, Cohen's kappa and threshold fitting."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from graders.models import VERDICTS, RubricQuestion, Verdict
from graders.offline import OfflineThresholds, PointFeatures, combine, decide, figures_absent


@dataclass(frozen=True)
class LabeledAnswer:
    """A hand-written answer with a human verdict per rubric point."""

    id: str
    question: RubricQuestion
    category: str
    answer: str
    labels: tuple[Verdict, ...]


def load_labeled_set(path: Path) -> list[LabeledAnswer]:
    """Read the labeled answers file (questions with rubrics, answers with verdicts)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = {
        q["id"]: RubricQuestion(
            id=q["id"], text=q["text"], rubric=tuple(q["rubric"]), kind=q.get("kind", "concept")
        )
        for q in data["questions"]
    }
    answers: list[LabeledAnswer] = []
    for item in data["answers"]:
        question = questions[item["question"]]
        labels = tuple(item["labels"])
        if len(labels) != len(question.rubric) or not set(labels) <= set(VERDICTS):
            raise ValueError(f"{item['id']}: labels {labels} do not fit {question.id}'s rubric")
        answers.append(
            LabeledAnswer(
                id=item["id"],
                question=question,
                category=item["category"],
                answer=item["answer"],
                labels=labels,
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


@dataclass(frozen=True)
class LabeledPoint:
    """One rubric point of one labeled answer, with the offline grader's features for it."""

    answer_id: str
    question_id: str
    category: str
    gold: Verdict
    features: PointFeatures


def _grid(start: float, stop: float, step: float) -> list[float]:
    count = int(round((stop - start) / step)) + 1
    return [round(start + i * step, 4) for i in range(count)]


def _kappa_from_codes(gold: np.ndarray, predicted: np.ndarray, classes: int = 3) -> float:
    observed = float((gold == predicted).mean())
    expected = float(sum((gold == c).mean() * (predicted == c).mean() for c in range(classes)))
    return 1.0 if expected >= 1.0 else (observed - expected) / (1 - expected)


_CODES: dict[str, int] = {"missing": 0, "partial": 1, "covered": 2}


def fit_thresholds(
    points: Sequence[LabeledPoint],
    *,
    term_weights: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4),
    partial_grid: Sequence[float] = tuple(_grid(0.30, 0.70, 0.01)),
    covered_grid: Sequence[float] = tuple(_grid(0.35, 0.90, 0.01)),
    clear_margin: float = 0.0,
) -> OfflineThresholds:
    """Pick the term weight and thresholds with the best Cohen's kappa on the given points.

    Verdicts follow `offline.decide`, figure cap included; ties go to the better accuracy.
    """
    if not points:
        raise ValueError("no labeled points to fit on")
    gold = np.array([_CODES[p.gold] for p in points])
    capped = np.array([figures_absent(p.features) for p in points])
    best: tuple[float, float, OfflineThresholds] | None = None
    for weight in term_weights:
        probe = OfflineThresholds(covered=1, partial=1, term_weight=weight, clear_margin=0)
        scores = np.array([combine(p.features, probe) for p in points])
        for partial, covered in itertools.product(partial_grid, covered_grid):
            if covered <= partial:
                continue
            predicted = (scores >= partial).astype(int) + (scores >= covered).astype(int)
            predicted = np.where(capped & (predicted == 2), 1, predicted)
            kappa = _kappa_from_codes(gold, predicted)
            acc = float((gold == predicted).mean())
            if best is None or (kappa, acc) > (best[0], best[1]):
                best = (
                    kappa,
                    acc,
                    OfflineThresholds(
                        covered=covered,
                        partial=partial,
                        term_weight=weight,
                        clear_margin=clear_margin,
                    ),
                )
    assert best is not None
    return best[2]


def offline_verdicts(points: Sequence[LabeledPoint], thresholds: OfflineThresholds) -> list[str]:
    """Return the offline grader's verdicts on labeled points under the given thresholds."""
    return [decide(p.features, thresholds)[1] for p in points]


def fit_clear_margin(
    points: Sequence[LabeledPoint],
    thresholds: OfflineThresholds,
    *,
    target_accuracy: float = 0.95,
    grid: Sequence[float] = tuple(_grid(0.0, 0.30, 0.01)),
) -> float:
    """Return the smallest margin beyond which offline verdicts reach the target accuracy."""
    decided = [(decide(p.features, thresholds), p.gold) for p in points]
    for margin in grid:
        kept = [(verdict, gold) for (_, verdict, m), gold in decided if m >= margin]
        if not kept:
            return margin
        if accuracy([g for _, g in kept], [v for v, _ in kept]) >= target_accuracy:
            return margin
    return grid[-1]
