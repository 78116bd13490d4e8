"""Drill `rope`: rotary position embedding on interleaved pairs."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish

SIGNATURE = (
    "def apply_rope(\n    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return `x` with rotary position embedding applied.

x has shape (..., seq, head_dim) with head_dim even; positions is an int64
tensor of shape (seq,) giving each row's absolute position (not necessarily
0..seq-1: a decode step starts far into the sequence). For i in
0..head_dim/2-1, the interleaved pair (x[..., 2i], x[..., 2i+1]) at position
pos is rotated by the angle pos * base ** (-2i / head_dim):
    out[2i]   = x[2i] * cos - x[2i+1] * sin
    out[2i+1] = x[2i] * sin + x[2i+1] * cos
The result has the shape and dtype of x. Positions reach several thousand."""


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Return `x` with each interleaved pair rotated by position times its frequency."""
    head_dim = x.shape[-1]
    # Angles in at least float32: a half-precision position is already off by several units.
    angle_dtype = torch.promote_types(x.dtype, torch.float32)
    exponents = torch.arange(0, head_dim, 2, dtype=angle_dtype, device=x.device) / head_dim
    inv_freq = base ** (-exponents)
    angles = positions.to(angle_dtype)[:, None] * inv_freq[None, :]
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class RopeDrill(Drill):
    """Rotary position embedding with the interleaved pair convention."""

    id = "rope"
    title = "Rotary position embedding (RoPE)"
    entry = "apply_rope"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("rope", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(apply_rope)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (479,)
    public_cases = (
        Case("small", {"shape": (1, 2, 6, 8), "positions": "arange"}),
        Case("decode_offset", {"shape": (1, 2, 4, 16), "positions": "offset", "start": 100}),
    )
    secret_cases = (
        Case("odd_head_dim", {"shape": (2, 3, 37, 24), "positions": "arange"}),
        Case("two_dims", {"shape": (9, 40), "positions": "random", "max_position": 512}),
        Case(
            "far_positions", {"shape": (1, 4, 16, 64), "positions": "random", "max_position": 8191}
        ),
        Case(
            "llama3_base",
            {"shape": (2, 2, 11, 32), "positions": "offset", "start": 3000, "base": 500000.0},
        ),
        Case("small_base", {"shape": (1, 1, 20, 12), "positions": "arange", "base": 100.0}),
    )
    bench_cases = (
        Case("bench_b2_h16_s1024_d64", {"shape": (2, 16, 1024, 64), "positions": "arange"}),
        Case(
            "bench_b1_h32_s1024_d128_decode",
            {"shape": (1, 32, 1024, 128), "positions": "offset", "start": 4096},
        ),
    )
    tolerances = {
        "float64": Tolerance(1e-9, 1e-9),
        "float32": Tolerance(1e-5, 2e-5),
        "float16": Tolerance(5e-3, 5e-3),
        "bfloat16": Tolerance(3e-2, 3e-2),
    }

    def tolerance_for(self, case: Case, dtype: object) -> Tolerance:
        """Widen atol with the largest position: a float angle pos*freq is off by ~pos*ulp."""
        tol = self.tolerance(dtype)
        if str(dtype).removeprefix("torch.") != "float32":
            return tol
        return Tolerance(tol.rtol, tol.atol + 6e-7 * self.max_position(case))

    @staticmethod
    def max_position(case: Case) -> int:
        """Return the largest position a case can draw."""
        p = case.params
        seq = int(p["shape"][-2])
        kind = p.get("positions", "arange")
        if kind == "offset":
            return int(p.get("start", 0)) + seq - 1
        if kind == "random":
            return int(p["max_position"])
        return seq - 1

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x and positions (arange, an offset run, or sorted random)."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        shape = tuple(p["shape"])
        seq = shape[-2]
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        kind = p.get("positions", "arange")
        if kind == "random":
            top = int(p["max_position"]) + 1
            positions = torch.randperm(top, generator=gen)[:seq].sort().values
        else:
            start = int(p.get("start", 0)) if kind == "offset" else 0
            positions = torch.arange(start, start + seq)
        kwargs = {"base": float(p["base"])} if "base" in p else {}
        return FunctionCall((finish(x, case, device), positions.to(device)), kwargs)


DRILL = RopeDrill()
