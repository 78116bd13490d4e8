"""Drill `lora_linear`: a linear layer with a low-rank adapter."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish

SIGNATURE = (
    "def lora_linear(\n"
    "    x: torch.Tensor,\n"
    "    weight: torch.Tensor,\n"
    "    lora_a: torch.Tensor,\n"
    "    lora_b: torch.Tensor,\n"
    "    alpha: float,\n"
    "    r: int,\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return x @ weight^T + (alpha / r) * (x @ lora_a^T) @ lora_b^T.

x has shape (..., in_features); weight (out_features, in_features); lora_a
(r, in_features); lora_b (out_features, r). The adapter is scaled by alpha / r
(not alpha). No bias. The result has shape (..., out_features) and the dtype
of x; feature sizes are not powers of two."""


def lora_linear(
    x: torch.Tensor,
    weight: torch.Tensor,
    lora_a: torch.Tensor,
    lora_b: torch.Tensor,
    alpha: float,
    r: int,
) -> torch.Tensor:
    """Return the frozen projection plus the (alpha / r)-scaled low-rank update."""
    return x @ weight.T + (alpha / r) * ((x @ lora_a.T) @ lora_b.T)


class LoraDrill(Drill):
    """LoRA forward pass."""

    id = "lora_linear"
    title = "LoRA linear layer"
    entry = "lora_linear"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("lora_linear", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(lora_linear)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (481,)
    public_cases = (
        Case("rows", {"x": (5, 12), "out": 7, "r": 4, "alpha": 8.0}),
        Case("sequence", {"x": (2, 9, 20), "out": 13, "r": 3, "alpha": 6.0}),
    )
    secret_cases = (
        Case("rank_two", {"x": (4, 3, 33), "out": 45, "r": 2, "alpha": 16.0}),
        Case("alpha_below_r", {"x": (11, 24), "out": 10, "r": 8, "alpha": 2.0}),
        Case("wide_out", {"x": (3, 17), "out": 100, "r": 5, "alpha": 7.5}),
    )
    bench_cases = (
        Case("bench_512x2048_r16", {"x": (512, 2048), "out": 2048, "r": 16, "alpha": 32.0}),
        Case("bench_4x256x1000_r8", {"x": (4, 256, 1000), "out": 1500, "r": 8, "alpha": 16.0}),
    )
    tolerances = {
        "float64": Tolerance(1e-9, 1e-9),
        "float32": Tolerance(1e-4, 1e-4),
        "float16": Tolerance(1e-2, 1e-2),
        "bfloat16": Tolerance(4e-2, 5e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x, weight and adapter matrices (B non-zero, as after training)."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        x_shape = tuple(p["x"])
        d_in, d_out, r = x_shape[-1], int(p["out"]), int(p["r"])
        x = torch.randn(x_shape, generator=gen, dtype=torch.float64)
        weight = torch.randn((d_out, d_in), generator=gen, dtype=torch.float64) / d_in**0.5
        lora_a = torch.randn((r, d_in), generator=gen, dtype=torch.float64) / d_in**0.5
        lora_b = torch.randn((d_out, r), generator=gen, dtype=torch.float64) / r**0.5
        tensors = tuple(finish(t, case, device) for t in (x, weight, lora_a, lora_b))
        return FunctionCall(tensors + (float(p["alpha"]), r), {})


DRILL = LoraDrill()
