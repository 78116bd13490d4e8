"""The calibrated model that turns a rubric point's measured features into a verdict.

A multinomial logistic regression (scikit-learn) over the features `graders.offline` measures:
sentence similarity from the embedding model plus the claim checks of `graders.claims`. It is
fitted by `bench/grader_agreement.py --calibrate` on the fit part of the labeled set, and its
standardisation, weights and the cascade's confidence cut-off ship as JSON
(`graders/data/verdict_model.json`). Prediction is plain numpy: scikit-learn is needed only to fit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from graders.alignment import NAMES as ALIGNMENT
from graders.models import VERDICTS, Verdict

Matrix = NDArray[np.float64]

# What the offline grader measures for each (point, answer) pair; see graders/offline.py.
FEATURES: tuple[str, ...] = (
    "sim_best",
    "sim_sentence",
    "clause_mean",
    "clause_min",
    "sim_question",
    "support_sim",
    "coverage",
    "relation",
    "coverage_answer",
    "terms",
    "has_terms",
    "terms_answer",
    "numbers",
    "has_numbers",
    "negation",
    "direction",
    "number_conflict",
    "conflict_near",
    "support_x_conflict",
    "log_words",
    "own_margin",
    "vague",
    "listy",
    "support_words",
    "pair_gain",
    "top_conflict",
    "top_x_conflict",
    "support_gap",
    "frame_gap",
    "clause_max",
    "clause_coverage",
    "on_point",
    "mean_support_sim",
    "mean_sim_best",
    "mean_coverage",
    "mean_relation",
    "mean_frame_gap",
    "mean_vague",
    "mean_listy",
    # Word-piece alignment of the point with the answer.
    *ALIGNMENT,
)
MODEL_FILE = "verdict_model.json"
MODEL_VERSION = 1


@dataclass(frozen=True)
class VerdictModel:
    """Standardisation, weights and cut-off of the fitted verdict model."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    # One row of weights per verdict, in `classes` order.
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]
    classes: tuple[Verdict, ...] = VERDICTS
    # A verdict whose probability is below this is unsure: the cascade asks the LLM about it.
    confident_at: float = 0.0
    # What the fit saw, for the record: points, C, and agreement measured out of fold.
    fitted_on: Mapping[str, Any] | None = None

    def vector(self, values: Mapping[str, float]) -> Matrix:
        """Return the feature row for one point, in the model's order."""
        return np.array([float(values[name]) for name in self.features], dtype=np.float64)

    def probabilities(self, rows: Matrix) -> Matrix:
        """Return each row's probability of every verdict (rows of features, model order)."""
        x = (np.atleast_2d(rows) - np.array(self.mean)) / np.array(self.scale)
        logits = x @ np.array(self.coef).T + np.array(self.intercept)
        logits -= logits.max(axis=1, keepdims=True)
        weights = np.exp(logits)
        probs: Matrix = weights / weights.sum(axis=1, keepdims=True)
        return probs

    def decide(self, values: Mapping[str, float]) -> tuple[Verdict, dict[Verdict, float]]:
        """Return the most probable verdict for one point and every verdict's probability."""
        probs = self.probabilities(self.vector(values))[0]
        by_verdict = {verdict: float(p) for verdict, p in zip(self.classes, probs, strict=True)}
        return max(by_verdict, key=lambda v: by_verdict[v]), by_verdict

    def to_json(self) -> str:
        """Serialise the model as the JSON document shipped with the package."""
        return json.dumps(
            {
                "version": MODEL_VERSION,
                "kind": "multinomial logistic regression (scikit-learn), standardised features",
                "features": list(self.features),
                "mean": [round(v, 8) for v in self.mean],
                "scale": [round(v, 8) for v in self.scale],
                "classes": list(self.classes),
                "coef": [[round(v, 8) for v in row] for row in self.coef],
                "intercept": [round(v, 8) for v in self.intercept],
                "confident_at": round(self.confident_at, 6),
                "fitted_on": dict(self.fitted_on or {}),
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> VerdictModel:
        """Read a model written by `to_json`, checking it fits the features measured today."""
        data = json.loads(text)
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"verdict model version {data.get('version')!r} is not supported")
        features = tuple(data["features"])
        if set(features) - set(FEATURES):
            raise ValueError(f"verdict model uses unknown features {set(features) - set(FEATURES)}")
        classes = tuple(data["classes"])
        if set(classes) != set(VERDICTS):
            raise ValueError(f"verdict model classes {classes} are not {VERDICTS}")
        return cls(
            features=features,
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            coef=tuple(tuple(row) for row in data["coef"]),
            intercept=tuple(data["intercept"]),
            classes=classes,
            confident_at=float(data.get("confident_at", 0.0)),
            fitted_on=data.get("fitted_on"),
        )


def default_model_path() -> Path:
    """Return where the shipped model lives inside the package."""
    return Path(str(resources.files("graders") / "data" / MODEL_FILE))


_DEFAULT: VerdictModel | None = None


def default_model() -> VerdictModel:
    """Return the shipped verdict model (read once per process)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = VerdictModel.from_json(default_model_path().read_text(encoding="utf-8"))
    return _DEFAULT


def fit_verdict_model(
    rows: Sequence[Mapping[str, float]],
    labels: Sequence[Verdict],
    *,
    c: float = 1.0,
    features: Sequence[str] = FEATURES,
) -> VerdictModel:
    """Fit the verdict model on measured points and their human labels (needs scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    if not rows:
        raise ValueError("no labeled points to fit on")
    x = np.array([[float(r[name]) for name in features] for r in rows], dtype=np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    codes = np.array([VERDICTS.index(label) for label in labels])
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit((x - mean) / scale, codes)
    order = [list(model.classes_).index(i) for i in range(len(VERDICTS))]
    coef = model.coef_[order]
    intercept = model.intercept_[order]
    return VerdictModel(
        features=tuple(features),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(tuple(float(v) for v in row) for row in coef),
        intercept=tuple(float(v) for v in intercept),
    )


def with_cutoff(model: VerdictModel, confident_at: float, **fitted_on: Any) -> VerdictModel:
    """Return the model with the cascade's cut-off and a record of the fit."""
    if not 0.0 <= confident_at <= 1.0 or math.isnan(confident_at):
        raise ValueError("the cut-off is a probability")
    return VerdictModel(
        features=model.features,
        mean=model.mean,
        scale=model.scale,
        coef=model.coef,
        intercept=model.intercept,
        classes=model.classes,
        confident_at=confident_at,
        fitted_on=fitted_on or model.fitted_on,
    )
