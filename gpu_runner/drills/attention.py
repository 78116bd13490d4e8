"""Drills `attention` and `tiled_attention`: scaled dot-product attention, plain and online."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish
from gpu_runner.library_calls import ATTENTION_CALLS

ATTENTION_SIGNATURE = (
    "def attention(\n    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False\n"
    ") -> torch.Tensor"
)
ATTENTION_DOCSTRING = """\
Return softmax(q @ k^T / sqrt(head_dim) + mask) @ v.

q, k and v have shape (batch, heads, seq, head_dim); the result has the shape
and dtype of q. With `causal=True`, query i attends to keys 0..i only (itself
included). Scores can be large (a softmax without its max shift overflows) or
all strongly negative; seq and head_dim are not powers of two."""

TILED_SIGNATURE = (
    "def tiled_attention(\n    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int\n"
    ") -> torch.Tensor"
)
TILED_DOCSTRING = """\
Return non-causal attention(q, k, v), computed block by block over the keys.

Work the FlashAttention way: loop over blocks of `block_size` keys (and their values),
keeping per query a running maximum m, a running sum l of exp(score - m) and an
unnormalised output o. When a block raises the maximum, rescale l and o by
exp(m_old - m_new) before adding the block; divide o by l at the end.

q, k and v have shape (batch, heads, seq, head_dim), scale 1/sqrt(head_dim).
`block_size` need not divide seq and may exceed it."""

ATTENTION_NOTES = """\
Judged on fresh random inputs against a float64 reference; the first mismatching
element is reported with the tolerance."""

TILED_NOTES = """\
Only the result is judged, but timing is reported against the plain reference:
the point of the exercise is the online-softmax loop, so write it out."""


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Return scaled dot-product attention, masking future keys when `causal`."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if causal:
        n_q, n_k = scores.shape[-2], scores.shape[-1]
        future = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).triu(diagonal=1)
        scores = scores.masked_fill(future, float("-inf"))
    scores = scores - scores.amax(dim=-1, keepdim=True)
    weights = torch.exp(scores)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ v


def tiled_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block_size: int
) -> torch.Tensor:
    """Return non-causal attention with an online softmax over key blocks."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype, device=q.device)
    l_sum = torch.zeros_like(m)
    o = torch.zeros_like(q)
    for start in range(0, k.shape[-2], block_size):
        k_blk = k[..., start : start + block_size, :]
        v_blk = v[..., start : start + block_size, :]
        s = (q @ k_blk.transpose(-2, -1)) * scale
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        correction = torch.exp(m - m_new)
        p = torch.exp(s - m_new)
        l_sum = l_sum * correction + p.sum(dim=-1, keepdim=True)
        o = o * correction + p @ v_blk
        m = m_new
    return o / l_sum


def qkv(drill_id: str, case: Case, seed: int, device: str) -> tuple[torch.Tensor, ...]:
    """Return seeded q, k, v: `qk_scale` sharpens the scores, `negative` makes all of them < 0."""
    p = case.params
    gen = torch_generator(drill_id, case, seed)
    shape = tuple(p["shape"])
    scale = float(p.get("qk_scale", 1.0))
    if p.get("negative"):
        q = (torch.rand(shape, generator=gen, dtype=torch.float64) + 1.0) * scale
        k = -(torch.rand(shape, generator=gen, dtype=torch.float64) + 1.0) * scale
    else:
        q = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
        k = torch.randn(shape, generator=gen, dtype=torch.float64) * scale
    v = torch.randn(shape, generator=gen, dtype=torch.float64)
    return finish(q, case, device), finish(k, case, device), finish(v, case, device)


# Scores reach ~100 in the sharp cases, where float32 rounding of a score (6e-6) moves a
# weight by that much relatively; errors of a wrong scale or mask are orders larger.
ATTENTION_TOLERANCES = {
    "float64": Tolerance(1e-9, 1e-9),
    "float32": Tolerance(3e-4, 3e-4),
    "float16": Tolerance(1e-2, 5e-3),
    "bfloat16": Tolerance(5e-2, 3e-2),
}


class AttentionDrill(Drill):
    """Scaled dot-product attention with an optional causal mask."""

    id = "attention"
    title = "Scaled dot-product attention"
    entry = "attention"
    library_calls = ATTENTION_CALLS
    signature = ATTENTION_SIGNATURE
    docstring = ATTENTION_DOCSTRING
    notes = ATTENTION_NOTES
    template = function_template("attention", ATTENTION_SIGNATURE, ATTENTION_DOCSTRING)
    reference_impl = staticmethod(attention)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (467,)
    tolerances = ATTENTION_TOLERANCES
    public_cases = (
        Case("small", {"shape": (1, 2, 8, 16), "causal": False}),
        Case("small_causal", {"shape": (1, 2, 8, 16), "causal": True}),
    )
    secret_cases = (
        Case("odd_causal", {"shape": (2, 3, 37, 24), "causal": True}),
        Case("odd_full", {"shape": (2, 1, 45, 40), "causal": False}),
        Case("sharp_scores", {"shape": (1, 2, 19, 32), "qk_scale": 7.0, "causal": False}),
        Case("sharp_causal", {"shape": (1, 2, 21, 32), "qk_scale": 7.0, "causal": True}),
        Case(
            "negative_scores",
            {"shape": (1, 2, 17, 40), "negative": True, "qk_scale": 3.0, "causal": True},
        ),
        Case("one_token", {"shape": (2, 2, 1, 8), "causal": True}),
    )
    bench_cases = (
        Case("bench_b2_h8_s512_d64", {"shape": (2, 8, 512, 64), "causal": False}),
        Case("bench_b2_h8_s512_d64_causal", {"shape": (2, 8, 512, 64), "causal": True}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded q, k, v and the causal flag."""
        q, k, v = qkv(self.id, case, seed, device)
        return FunctionCall((q, k, v), {"causal": bool(case.params.get("causal", False))})


class TiledAttentionDrill(Drill):
    """FlashAttention-style online softmax over key blocks."""

    id = "tiled_attention"
    title = "Tiled attention with an online softmax"
    entry = "tiled_attention"
    library_calls = ATTENTION_CALLS
    signature = TILED_SIGNATURE
    docstring = TILED_DOCSTRING
    notes = TILED_NOTES
    template = function_template("tiled_attention", TILED_SIGNATURE, TILED_DOCSTRING)
    reference_impl = staticmethod(tiled_attention)
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (476,)
    tolerances = ATTENTION_TOLERANCES
    public_cases = (
        Case("two_blocks", {"shape": (1, 2, 16, 8), "block_size": 8}),
        Case("ragged_last_block", {"shape": (1, 1, 20, 8), "block_size": 8}),
    )
    secret_cases = (
        Case("odd_blocks", {"shape": (2, 3, 50, 24), "block_size": 16}),
        Case("block_of_one", {"shape": (1, 2, 13, 12), "block_size": 1}),
        Case("block_larger_than_seq", {"shape": (1, 2, 45, 40), "block_size": 64}),
        Case("sharp_scores", {"shape": (1, 2, 37, 32), "qk_scale": 7.0, "block_size": 7}),
        Case(
            "negative_scores",
            {"shape": (1, 2, 33, 40), "negative": True, "qk_scale": 3.0, "block_size": 8},
        ),
    )
    bench_cases = (
        Case("bench_b2_h8_s512_d64_blk64", {"shape": (2, 8, 512, 64), "block_size": 64}),
        Case("bench_b1_h8_s1000_d64_blk128", {"shape": (1, 8, 1000, 64), "block_size": 128}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded q, k, v and the key block size."""
        q, k, v = qkv(self.id, case, seed, device)
        return FunctionCall((q, k, v, int(case.params["block_size"])), {})

    def reference(self, inputs: FunctionCall | Trace) -> object:
        """Return plain float64 attention: the same numbers, without a slow float64 loop."""
        if not isinstance(inputs, FunctionCall):
            raise TypeError("tiled_attention takes a FunctionCall")
        q, k, v = inputs.args[:3]
        out = attention(q.to(torch.float64), k.to(torch.float64), v.to(torch.float64))
        return out.to(q.dtype)


ATTENTION = AttentionDrill()
TILED_ATTENTION = TiledAttentionDrill()
