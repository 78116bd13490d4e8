"""Triton kernel drills of attention: one-pass attention, tiled (online-softmax) attention, RoPE."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Tolerance, torch_generator
from gpu_runner.drills.kernels.base import KernelDrill, kernel_template
from gpu_runner.library_calls import ATTENTION_CALLS, LOG_SOFTMAX_CALLS, SOFTMAX_CALLS

ATTENTION_TOLERANCES = {"float64": Tolerance(1e-9, 1e-10), "float32": Tolerance(2e-3, 2e-4)}


def attention_reference(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Return softmax(q k^T / sqrt(d)) v per batch-head, causal when asked."""
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q, k.transpose(-1, -2)) * scale
    if causal:
        n_q, n_k = scores.shape[-2], scores.shape[-1]
        keep = torch.ones(n_q, n_k, dtype=torch.bool, device=q.device).tril(n_k - n_q)
        scores = scores.masked_fill(~keep, float("-inf"))
    e = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return torch.matmul(e / e.sum(dim=-1, keepdim=True), v)


def _qkv(drill_id: str, case: Case, seed: int, device: str) -> FunctionCall:
    p = case.params
    gen = torch_generator(drill_id, case, seed)
    bh, n, d = int(p["bh"]), int(p["n"]), int(p["d"])
    scale = float(p.get("scale", 1.0))
    q, k, v = (torch.randn(bh, n, d, generator=gen, dtype=torch.float64) for _ in range(3))
    q = q * scale
    return FunctionCall(
        tuple(t.to(torch.float32).to(device).contiguous() for t in (q, k, v)),
        {"causal": bool(p.get("causal", False))},
    )


SIGNATURE = (
    "def attention(\n    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False\n"
    ") -> torch.Tensor"
)

ATTENTION_KERNEL = '''
@triton.jit
def attention_kernel(
    out_ptr, q_ptr, k_ptr, v_ptr, n, scale, CAUSAL: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr,
):
    """Program (i, bh): query rows i*BLOCK_M.. of batch-head bh against all n keys at once."""
    i = tl.program_id(0)
    bh = tl.program_id(1)
    rows = i * BLOCK_M + tl.arange(0, BLOCK_M)
    keys = tl.arange(0, BLOCK_N)
    dims = tl.arange(0, D)
    base = bh * n * D
    q = tl.load(q_ptr + base + rows[:, None] * D + dims[None, :], mask=rows[:, None] < n, other=0.0)
    k = tl.load(k_ptr + base + keys[:, None] * D + dims[None, :], mask=keys[:, None] < n, other=0.0)
    v = tl.load(v_ptr + base + keys[:, None] * D + dims[None, :], mask=keys[:, None] < n, other=0.0)
    # TODO: scores = q k^T * scale (tl.dot(q, tl.trans(k))), -inf for padded keys (and for
    # keys after the query when CAUSAL), a stable softmax over keys, then out = p v, stored
    # at out_ptr + base + rows[:, None] * D + dims[None, :] with mask=rows[:, None] < n.
'''

ATTENTION_LAUNCHER = '''
def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Return softmax(q k^T / sqrt(d)) v for q, k, v of shape (batch_heads, n, d)."""
    bh, n, d = q.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    block_m = 16
    grid = (triton.cdiv(n, block_m), bh)
    attention_kernel[grid](
        out, q, k, v, n, 1.0 / d**0.5, CAUSAL=causal,
        BLOCK_M=block_m, BLOCK_N=max(16, triton.next_power_of_2(n)), D=d,
    )
    return out
'''


class TritonAttention(KernelDrill):
    """Scaled dot-product attention in one pass per query block."""

    id = "triton_attention"
    title = "Attention as a Triton kernel"
    entry = "attention"
    variant_of = "attention"
    signature = SIGNATURE
    docstring = """\
Return softmax(q k^T / sqrt(d)) v for float32 q, k, v of shape (batch_heads,
n, d), computed by a Triton kernel; with `causal`, query i sees keys 0..i only.

d is 16 or 32; n is at most 64 and not a power of two, so a block of queries
can hold every key at once: mask the padded keys with -inf before the softmax,
and the padded query rows on the store."""
    template = kernel_template("triton_attention", ATTENTION_KERNEL, ATTENTION_LAUNCHER)
    reference_impl = staticmethod(attention_reference)
    library_calls = ATTENTION_CALLS + SOFTMAX_CALLS + LOG_SOFTMAX_CALLS
    bank_questions = (465,)
    tolerances = ATTENTION_TOLERANCES
    public_cases = (Case("small", {"bh": 2, "n": 16, "d": 16}),)
    secret_cases = (
        Case("ragged", {"bh": 3, "n": 37, "d": 16}),
        Case("causal", {"bh": 2, "n": 29, "d": 32, "causal": True}),
        Case("sharp_scores", {"bh": 2, "n": 20, "d": 16, "scale": 12.0}),
    )
    bench_cases = (Case("bench_bh32_n64_d32", {"bh": 32, "n": 64, "d": 32}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded q, k, v and the causal flag."""
        return _qkv(self.id, case, seed, device)


TILED_KERNEL = '''
@triton.jit
def tiled_attention_kernel(
    out_ptr, q_ptr, k_ptr, v_ptr, n, scale, CAUSAL: tl.constexpr,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, D: tl.constexpr,
):
    """Program (i, bh): query rows i*BLOCK_M.., keys visited BLOCK_N at a time (online softmax)."""
    i = tl.program_id(0)
    bh = tl.program_id(1)
    rows = i * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, D)
    base = bh * n * D
    q = tl.load(q_ptr + base + rows[:, None] * D + dims[None, :], mask=rows[:, None] < n, other=0.0)
    m = tl.full((BLOCK_M,), float("-inf"), tl.float32)  # running maximum per row
    l = tl.zeros((BLOCK_M,), tl.float32)  # running sum of exp(score - m)
    acc = tl.zeros((BLOCK_M, D), tl.float32)  # running sum of exp(score - m) * v
    for start in range(0, n, BLOCK_N):
        keys = start + tl.arange(0, BLOCK_N)
        # TODO: load this tile of k and v, score it, mask padded (and, if CAUSAL, future)
        # keys, then update m, l and acc: rescale the old l and acc by exp(m_old - m_new).
        pass
    # TODO: store acc / l[:, None] at out_ptr + base + rows[:, None] * D + dims[None, :].
'''

TILED_LAUNCHER = '''
def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Return softmax(q k^T / sqrt(d)) v for q, k, v of shape (batch_heads, n, d), by key tiles."""
    bh, n, d = q.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    block_m, block_n = 16, 16
    grid = (triton.cdiv(n, block_m), bh)
    tiled_attention_kernel[grid](
        out, q, k, v, n, 1.0 / d**0.5, CAUSAL=causal, BLOCK_M=block_m, BLOCK_N=block_n, D=d
    )
    return out
'''


class TritonTiledAttention(KernelDrill):
    """Flash-attention style forward: key tiles and the online softmax."""

    id = "triton_tiled_attention"
    title = "Tiled attention with the online softmax, as a Triton kernel"
    entry = "attention"
    variant_of = "tiled_attention"
    signature = SIGNATURE
    docstring = """\
Return softmax(q k^T / sqrt(d)) v for float32 q, k, v of shape (batch_heads,
n, d), computed by a Triton kernel that visits the keys one tile at a time and
keeps the online softmax's running maximum and sum per query row (never the
whole score row). With `causal`, query i sees keys 0..i only.

d is 16 or 32; n is not a multiple of the tile. A row's first tiles may be all
masked (causal, late rows never are; padded rows are): exp(-inf - -inf) is NaN,
so guard the rescale. Scores can be large (sharp attention)."""
    template = kernel_template("triton_tiled_attention", TILED_KERNEL, TILED_LAUNCHER)
    reference_impl = staticmethod(attention_reference)
    library_calls = ATTENTION_CALLS + SOFTMAX_CALLS + LOG_SOFTMAX_CALLS
    bank_questions = (476,)
    tolerances = ATTENTION_TOLERANCES
    public_cases = (Case("two_tiles", {"bh": 2, "n": 32, "d": 16}),)
    secret_cases = (
        Case("ragged", {"bh": 2, "n": 45, "d": 16}),
        Case("causal", {"bh": 2, "n": 40, "d": 32, "causal": True}),
        Case("sharp_scores", {"bh": 1, "n": 50, "d": 16, "scale": 20.0}),
    )
    bench_cases = (Case("bench_bh16_n1024_d64", {"bh": 16, "n": 1024, "d": 64}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded q, k, v and the causal flag."""
        return _qkv(self.id, case, seed, device)


# --- RoPE ------------------------------------------------------------------------------------

ROPE_KERNEL = '''
@triton.jit
def rope_kernel(out_ptr, x_ptr, pos_ptr, seq, base, HALF: tl.constexpr):
    """Program (s, h): rotate the interleaved pairs of row s of head h by pos[s] * freq_i."""
    s = tl.program_id(0)
    h = tl.program_id(1)
    i = tl.arange(0, HALF)
    row = (h * seq + s) * 2 * HALF
    even = tl.load(x_ptr + row + 2 * i)
    odd = tl.load(x_ptr + row + 2 * i + 1)
    pos = tl.load(pos_ptr + s).to(tl.float32)
    # TODO: angle = pos * base ** (-2 i / (2 HALF)) (exp and log are in tl), then store
    # even * cos - odd * sin at 2i and even * sin + odd * cos at 2i + 1.
'''

ROPE_LAUNCHER = '''
def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Return x (heads, seq, head_dim) with rotary embedding at the given positions."""
    heads, seq, head_dim = x.shape
    x = x.contiguous()
    out = torch.empty_like(x)
    rope_kernel[(seq, heads)](out, x, positions, seq, base, HALF=head_dim // 2)
    return out
'''


def rope_reference(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """Return `x` with each interleaved pair rotated by position times its frequency."""
    head_dim = x.shape[-1]
    exponents = torch.arange(0, head_dim, 2, dtype=x.dtype, device=x.device) / head_dim
    angles = positions.to(x.dtype)[:, None] * (base ** (-exponents))[None, :]
    cos, sin = torch.cos(angles), torch.sin(angles)
    even, odd = x[..., 0::2], x[..., 1::2]
    out = torch.empty_like(x)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


class TritonRope(KernelDrill):
    """Rotary position embedding (interleaved pairs) as a Triton kernel."""

    id = "triton_rope"
    title = "RoPE as a Triton kernel"
    entry = "apply_rope"
    variant_of = "rope"
    signature = (
        "def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) "
        "-> torch.Tensor"
    )
    docstring = """\
Return `x` (float32, shape (heads, seq, head_dim), head_dim a power of two)
with rotary position embedding applied, computed by a Triton kernel.

positions is an int64 tensor of shape (seq,) (a decode step starts far into the
sequence). For i in 0..head_dim/2-1 the interleaved pair (x[..., 2i],
x[..., 2i+1]) at position pos is rotated by pos * base ** (-2i / head_dim):
    out[2i]   = x[2i] * cos - x[2i+1] * sin
    out[2i+1] = x[2i] * sin + x[2i+1] * cos"""
    template = kernel_template("triton_rope", ROPE_KERNEL, ROPE_LAUNCHER)
    reference_impl = staticmethod(rope_reference)
    bank_questions = (469,)
    # Angles of thousands of radians in float32 carry ~1e-4 of absolute error.
    tolerances = {"float64": Tolerance(1e-9, 1e-10), "float32": Tolerance(1e-4, 5e-4)}
    public_cases = (Case("prefill", {"heads": 2, "seq": 8, "head_dim": 16}),)
    secret_cases = (
        Case("decode_far", {"heads": 3, "seq": 5, "head_dim": 32, "start": 3000}),
        Case("other_base", {"heads": 2, "seq": 12, "head_dim": 8, "base": 500000.0}),
        Case("scattered", {"heads": 1, "seq": 9, "head_dim": 64, "scattered": True}),
    )
    bench_cases = (Case("bench_h32_s2048_d128", {"heads": 32, "seq": 2048, "head_dim": 128}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x, the positions and the base."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        heads, seq, dim = int(p["heads"]), int(p["seq"]), int(p["head_dim"])
        x = torch.randn(heads, seq, dim, generator=gen, dtype=torch.float64).to(torch.float32)
        if p.get("scattered"):
            positions = torch.randint(0, 4000, (seq,), generator=gen, dtype=torch.int64)
        else:
            positions = torch.arange(seq, dtype=torch.int64) + int(p.get("start", 0))
        return FunctionCall(
            (x.to(device), positions.to(device)), {"base": float(p.get("base", 10000.0))}
        )


ATTENTION = TritonAttention()
TILED_ATTENTION = TritonTiledAttention()
ROPE = TritonRope()
