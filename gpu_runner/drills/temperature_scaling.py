"""Drill `temperature_scaling`: fit the calibration temperature of a classifier's logits."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, torch_generator

SIGNATURE = "def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float"

DOCSTRING = """\
Return the temperature T > 0 that minimises the mean negative log-likelihood
cross_entropy(logits / T, labels) on this calibration set.

`logits` is (n, classes) float32, `labels` is (n,) int64. The model that made them
is miscalibrated (over- or under-confident), so T is not 1. Any optimiser will do
(L-BFGS, Adam on log T, Newton, a 1-D search): the NLL is convex in 1/T. Return a
Python float.

Judged by the NLL your T reaches: it must be within 1e-4 (relative) of the
optimum, which is about what a few hundred optimiser steps or a fine 1-D search
reach; T itself is not compared digit by digit."""

NOTES = """\
At inference the logits are divided by T before the softmax: T > 1 softens
over-confident predictions, T < 1 sharpens under-confident ones."""


def mean_nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> float:
    """Return the mean NLL of logits / temperature in float64."""
    z = logits.to(torch.float64) / temperature
    z = z - z.amax(dim=-1, keepdim=True)
    log_probs = z - torch.log(torch.exp(z).sum(dim=-1, keepdim=True))
    return float(-log_probs.gather(-1, labels.unsqueeze(-1)).mean())


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Newton's method on the inverse temperature b = 1/T (the NLL is convex in b)."""
    z = logits.to(torch.float64)
    target = z.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    b = 1.0
    for _ in range(100):
        p = torch.softmax(b * z, dim=-1)
        mean_z = (p * z).sum(-1)
        grad = float((mean_z - target).mean())
        hess = float(((p * z * z).sum(-1) - mean_z * mean_z).mean())
        step = grad / max(hess, 1e-12)
        while b - step <= 0:
            step /= 2
        b -= step
        if abs(step) < 1e-12 * max(1.0, b):
            break
    return 1.0 / b


# Relative NLL gap allowed above the optimum.
NLL_GAP = 1e-4


class TemperatureScalingDrill(Drill):
    """Temperature scaling judged on the NLL the returned temperature reaches."""

    id = "temperature_scaling"
    title = "Temperature scaling"
    entry = "fit_temperature"
    signature = SIGNATURE
    docstring = DOCSTRING
    notes = NOTES
    template = function_template("temperature_scaling", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(fit_temperature)
    reference_imports = ("import torch",)
    upcast_reference = False
    bank_questions = (498,)
    public_cases = (
        Case("overconfident", {"n": 200, "classes": 5, "sharpness": 3.0}),
        Case("underconfident", {"n": 200, "classes": 4, "sharpness": 0.4}),
    )
    secret_cases = (
        Case("many_classes", {"n": 400, "classes": 50, "sharpness": 2.0}),
        Case("very_overconfident", {"n": 300, "classes": 10, "sharpness": 8.0}),
        Case("two_classes", {"n": 150, "classes": 2, "sharpness": 1.7}),
        Case("large_logits", {"n": 300, "classes": 8, "sharpness": 4.0, "offset": 200.0}),
    )
    bench_cases = (Case("bench_2k_x_50", {"n": 2000, "classes": 50, "sharpness": 3.0}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Draw a calibrated model's logits, then scale them by `sharpness` (miscalibrate).

        Labels are sampled from the calibrated softmax, so the best T is near `sharpness`.
        """
        p = case.params
        gen = torch_generator(self.id, case, seed)
        n, classes = int(p["n"]), int(p["classes"])
        base = torch.randn(n, classes, generator=gen, dtype=torch.float64) * 1.5
        labels = torch.multinomial(torch.softmax(base, -1), 1, generator=gen).squeeze(-1)
        logits = base * float(p["sharpness"]) + float(p.get("offset", 0.0))
        return FunctionCall((logits.to(torch.float32).to(device), labels.to(device)), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Accept any positive T whose NLL is within NLL_GAP (relative) of the optimum."""
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = float(got.item())
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"output should be a float temperature, got {type(got).__name__}"
        t = float(got)
        if not math.isfinite(t) or t <= 0:
            return f"output = {t!r}: a temperature must be a positive finite number"
        if not isinstance(inputs, FunctionCall):
            return "the judge lost the inputs of this case"
        logits, labels = inputs.args[0].cpu(), inputs.args[1].cpu()
        best_t = float(expected)  # type: ignore[arg-type]
        best, nll = mean_nll(logits, labels, best_t), mean_nll(logits, labels, t)
        if nll <= best * (1 + NLL_GAP) + 1e-12:
            return None
        at_one = mean_nll(logits, labels, 1.0)
        return (
            f"T = {t:.6g} gives NLL {nll:.6f}, but T = {best_t:.6g} reaches {best:.6f} "
            f"(T = 1 gives {at_one:.6f}); the NLL must be within {NLL_GAP:g} of the optimum"
        )


DRILL = TemperatureScalingDrill()
