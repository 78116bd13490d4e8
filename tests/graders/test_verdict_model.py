"""The calibrated verdict model: shipped as JSON, read back exactly, refusing what does not fit."""

from __future__ import annotations

import json
import random
import threading

import numpy as np
import pytest

from graders import offline
from graders.verdict_model import (
    FEATURES,
    VerdictModel,
    default_model,
    default_model_path,
    fit_verdict_model,
    with_cutoff,
)


def _rows(n: int, seed: int = 7) -> tuple[list[dict[str, float]], list[str]]:
    rng = random.Random(seed)
    rows: list[dict[str, float]] = []
    labels: list[str] = []
    for _ in range(n):
        sim = rng.random()
        row = {name: rng.random() * 0.1 for name in FEATURES}
        row["sim_best"] = sim
        rows.append(row)
        labels.append("covered" if sim > 0.66 else "partial" if sim > 0.33 else "missing")
    return rows, labels


def test_the_shipped_model_reads_back_and_uses_every_measured_feature() -> None:
    model = default_model()
    assert model.features == FEATURES
    assert set(model.classes) == {"covered", "partial", "missing"}
    assert 0.0 < model.confident_at < 1.0
    assert model.fitted_on and model.fitted_on["points"] > 0
    again = VerdictModel.from_json(default_model_path().read_text(encoding="utf-8"))
    assert again.coef == model.coef and again.mean == model.mean


def test_a_fitted_model_learns_the_signal_and_round_trips_through_json() -> None:
    rows, labels = _rows(300)
    model = with_cutoff(fit_verdict_model(rows, labels, c=1.0), 0.6, points=300)  # type: ignore[arg-type]
    copy = VerdictModel.from_json(model.to_json())
    probe = dict(rows[0])
    for sim, expected in ((0.95, "covered"), (0.5, "partial"), (0.05, "missing")):
        probe["sim_best"] = sim
        verdict, probs = copy.decide(probe)
        assert verdict == expected
        assert abs(sum(probs.values()) - 1.0) < 1e-9
    assert np.allclose(
        copy.probabilities(np.array([copy.vector(r) for r in rows[:20]])),
        model.probabilities(np.array([model.vector(r) for r in rows[:20]])),
        atol=1e-6,
    )
    assert copy.confident_at == 0.6


def test_a_model_for_other_features_or_versions_is_refused() -> None:
    data = json.loads(default_model().to_json())
    unknown = dict(data, features=[*data["features"][:-1], "mystery"])
    with pytest.raises(ValueError, match="unknown features"):
        VerdictModel.from_json(json.dumps(unknown))
    with pytest.raises(ValueError, match="version"):
        VerdictModel.from_json(json.dumps(dict(data, version=99)))
    with pytest.raises(ValueError, match="probability"):
        with_cutoff(default_model(), 1.5)


def test_warm_up_loads_in_the_background_once() -> None:
    calls: list[int] = []
    started = threading.Event()

    class CountingEmbedder:
        def encode(self, texts: list[str]) -> np.ndarray:
            started.set()
            calls.append(len(texts))
            return np.zeros((len(texts), 384), dtype=np.float32)

    offline._WARM.clear()
    first = offline.warm_up(CountingEmbedder())  # type: ignore[arg-type]
    first.join(timeout=30)
    second = offline.warm_up(CountingEmbedder())  # type: ignore[arg-type]
    second.join(timeout=30)
    assert started.is_set() and calls == [1]
    assert offline.warmed_up()
    # Not a daemon: quitting waits for the load rather than aborting mid-load (see
    # test_encoder_runtime.py).
    assert not first.daemon and first.name == "grader-warm-up"
