"""Drill `alibi_bias`: the ALiBi attention bias tensor."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template

SIGNATURE = "def alibi_bias(n_heads: int, seq_len: int) -> torch.Tensor"
DOCSTRING = """\
Return the ALiBi bias, a float32 tensor of shape (n_heads, seq_len, seq_len).

Head h (counting h = 1..n_heads) has slope m_h = 2 ** (-8 * h / n_heads), and
bias[h - 1, i, j] = -m_h * |i - j| for every query i and key j (both
triangles: the bias is symmetric). Use this formula for every n_heads, powers
of two or not."""


def alibi_bias(n_heads: int, seq_len: int) -> torch.Tensor:
    """Return the (n_heads, seq_len, seq_len) ALiBi bias with slopes 2^(-8h/n_heads)."""
    heads = torch.arange(1, n_heads + 1, dtype=torch.float64)
    slopes = 2.0 ** (-8.0 * heads / n_heads)
    pos = torch.arange(seq_len, dtype=torch.float64)
    distance = (pos[None, :] - pos[:, None]).abs()
    return (-slopes[:, None, None] * distance[None, :, :]).to(torch.float32)


class AlibiDrill(Drill):
    """ALiBi bias with slopes 2^(-8h/n)."""

    id = "alibi_bias"
    title = "ALiBi attention bias"
    entry = "alibi_bias"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("alibi_bias", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(alibi_bias)
    upcast_reference = False
    bank_questions = (502,)
    public_cases = (
        Case("eight_heads", {"n_heads": 8, "seq_len": 6}),
        Case("two_heads", {"n_heads": 2, "seq_len": 5}),
    )
    secret_cases = (
        Case("twelve_heads", {"n_heads": 12, "seq_len": 17}),
        Case("six_heads", {"n_heads": 6, "seq_len": 33}),
        Case("one_head", {"n_heads": 1, "seq_len": 9}),
        Case("one_token", {"n_heads": 4, "seq_len": 1}),
    )
    bench_cases = (
        Case("bench_16_heads_512", {"n_heads": 16, "seq_len": 512}),
        Case("bench_12_heads_700", {"n_heads": 12, "seq_len": 700}),
    )
    tolerances = {"float32": Tolerance(1e-6, 1e-6)}

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return the head count and length (the same for every seed: the output is exact)."""
        return FunctionCall((int(case.params["n_heads"]), int(case.params["seq_len"])), {})


DRILL = AlibiDrill()
