"""Drill `gelu`: the tanh approximation of GELU."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish
from gpu_runner.library_calls import GELU_CALLS

SIGNATURE = "def gelu(x: torch.Tensor) -> torch.Tensor"
DOCSTRING = """\
Return GELU(x) with the tanh approximation, elementwise.

    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))

Not the exact erf form (the two differ by up to ~5e-4, which the judge sees).
The result has the shape and dtype of x; x may hold values of magnitude 20 or
more, where x**3 is large."""

COEFF = 0.044715


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Return the tanh-approximated GELU of `x`."""
    inner = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1.0 + torch.tanh(inner))


class GeluDrill(Drill):
    """GELU, tanh approximation."""

    id = "gelu"
    title = "GELU (tanh approximation)"
    entry = "gelu"
    library_calls = GELU_CALLS
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("gelu", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(gelu)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (494,)
    public_cases = (
        Case("normal", {"shape": (4, 25)}),
        Case("around_two", {"shape": (3, 40), "low": 1.0, "high": 3.5}),
    )
    secret_cases = (
        Case("negative_side", {"shape": (5, 33), "low": -4.0, "high": -0.5}),
        Case("wide_range", {"shape": (2, 3, 47), "low": -25.0, "high": 25.0}),
        Case("near_zero", {"shape": (17,), "low": -0.1, "high": 0.1}),
    )
    bench_cases = (
        Case("bench_2048x2048", {"shape": (2048, 2048)}),
        Case("bench_2x1024x1500", {"shape": (2, 1024, 1500)}),
    )
    # The exact erf GELU differs from the tanh form by up to ~5e-4 around |x| = 2; float32
    # evaluations of the tanh form (tanh, sigmoid, fused) agree to ~1e-7 relative.
    tolerances = {
        "float64": Tolerance(1e-10, 1e-12),
        "float32": Tolerance(1e-5, 1e-6),
        "float16": Tolerance(4e-3, 4e-3),
        "bfloat16": Tolerance(3e-2, 3e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x: uniform over [low, high] when given, else standard normal * 3."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        shape = tuple(p["shape"])
        if "low" in p:
            u = torch.rand(shape, generator=gen, dtype=torch.float64)
            x = float(p["low"]) + (float(p["high"]) - float(p["low"])) * u
        else:
            x = torch.randn(shape, generator=gen, dtype=torch.float64) * 3.0
        return FunctionCall((finish(x, case, device),), {})


DRILL = GeluDrill()
