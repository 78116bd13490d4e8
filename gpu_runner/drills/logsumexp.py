"""Drill `logsumexp`: numerically stable log-sum-exp reduction."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template
from gpu_runner.drills.generators import case_logits
from gpu_runner.library_calls import LOG_SOFTMAX_CALLS, LOGSUMEXP_CALLS

SIGNATURE = "def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor"
DOCSTRING = """\
Return log(sum(exp(x), dim)) with `dim` reduced away (no keepdim).

The result has the dtype of `x` and its shape without `dim`. It must stay
finite and accurate for logits in the hundreds or thousands, positive or
negative, for rows whose scales differ wildly, and for rows holding some -inf
entries (never a whole row of them)."""


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Return log(sum(exp(x))) over `dim`, factoring out the per-row maximum."""
    m = x.amax(dim=dim, keepdim=True)
    return (m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))).squeeze(dim)


class LogsumexpDrill(Drill):
    """Log-sum-exp along any dimension, stable for large logits."""

    id = "logsumexp"
    title = "Numerically stable log-sum-exp"
    entry = "logsumexp"
    library_calls = LOGSUMEXP_CALLS + LOG_SOFTMAX_CALLS
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("logsumexp", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(logsumexp)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (487,)
    public_cases = (
        Case("rows", {"shape": (4, 10)}),
        Case("middle_dim", {"shape": (2, 7, 5), "dim": 1}),
    )
    secret_cases = (
        Case("large_logits", {"shape": (8, 33), "scale": 30.0, "offset": 600.0}),
        Case("very_negative_logits", {"shape": (5, 19), "scale": 10.0, "offset": -900.0}),
        Case("rows_far_apart", {"shape": (7, 29), "scale": 2.0, "row_spread": 400.0}),
        Case("masked", {"shape": (3, 4, 21), "masked": 0.3, "scale": 5.0}),
        Case("first_dim", {"shape": (13, 6), "dim": 0, "scale": 40.0, "offset": 300.0}),
        Case("odd_shape_3d", {"shape": (3, 5, 37), "dim": 2, "scale": 3.0}),
    )
    bench_cases = (
        Case("bench_2048x2048", {"shape": (2048, 2048), "scale": 4.0}),
        Case("bench_4x512x1000", {"shape": (4, 512, 1000), "scale": 4.0}),
    )
    # Outputs reach ~1000 in magnitude, where one float32 ulp is 6e-5: rtol carries them.
    tolerances = {
        "float64": Tolerance(1e-10, 1e-10),
        "float32": Tolerance(1e-5, 1e-5),
        "float16": Tolerance(2e-3, 2e-3),
        "bfloat16": Tolerance(1.6e-2, 1e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded logits and the dimension to reduce."""
        x = case_logits(self.id, case, seed, device)
        return FunctionCall((x,), {"dim": int(case.params.get("dim", -1))})


DRILL = LogsumexpDrill()
