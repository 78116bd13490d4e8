"""Drill `softmax`: numerically stable softmax along a dimension."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template
from gpu_runner.drills.generators import case_logits
from gpu_runner.library_calls import LOG_SOFTMAX_CALLS, SOFTMAX_CALLS

DOCSTRING = """\
Return the softmax of `x` along `dim`: exp(x_i) / sum_j exp(x_j).

The result has the shape and dtype of `x`. It must stay finite for large logits
(hundreds or thousands, positive or negative) and for rows that hold some -inf
entries (masked positions get probability 0). `dim` may be any dimension,
negative or not, and sizes are not powers of two."""


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Return the softmax of `x` along `dim`, shifting by the maximum so exp cannot overflow."""
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


class SoftmaxDrill(Drill):
    """Softmax along any dimension, stable for large logits."""

    id = "softmax"
    title = "Numerically stable softmax"
    entry = "softmax"
    library_calls = SOFTMAX_CALLS + LOG_SOFTMAX_CALLS
    signature = "def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor"
    docstring = DOCSTRING
    template = function_template(
        "softmax", "def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor", DOCSTRING
    )
    reference_impl = staticmethod(softmax)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (466,)
    public_cases = (
        Case("rows", {"shape": (4, 10)}),
        Case("middle_dim", {"shape": (2, 7, 5), "dim": 1}),
    )
    secret_cases = (
        Case("large_logits", {"shape": (8, 33), "scale": 30.0, "offset": 600.0}),
        Case("very_negative_logits", {"shape": (5, 19), "scale": 10.0, "offset": -900.0}),
        Case("wide_spread", {"shape": (6, 45), "scale": 200.0}),
        Case("rows_far_apart", {"shape": (7, 29), "scale": 2.0, "row_spread": 400.0}),
        Case("masked", {"shape": (3, 4, 21), "masked": 0.3}),
        Case("first_dim", {"shape": (13, 6), "dim": 0, "scale": 40.0, "offset": 300.0}),
        Case("odd_shape_3d", {"shape": (3, 5, 37), "dim": -1, "scale": 3.0}),
    )
    bench_cases = (
        Case("bench_2048x2048", {"shape": (2048, 2048), "scale": 4.0}),
        Case("bench_4x512x1000", {"shape": (4, 512, 1000), "scale": 4.0}),
    )
    # float32: exp(x - logsumexp(x)) is a correct alternative whose error grows with the
    # logit magnitude (about 6e-8 * |x| relative), so rtol leaves room for |x| up to ~3000.
    tolerances = {
        "float64": Tolerance(1e-10, 1e-12),
        "float32": Tolerance(2e-4, 1e-6),
        "float16": Tolerance(5e-3, 1e-4),
        "bfloat16": Tolerance(3e-2, 1e-3),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded logits and the dimension to normalise over."""
        x = case_logits(self.id, case, seed, device)
        return FunctionCall((x,), {"dim": int(case.params.get("dim", -1))})


DRILL = SoftmaxDrill()
