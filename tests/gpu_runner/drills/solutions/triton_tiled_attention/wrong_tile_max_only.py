# expect: expected|NaN
import torch
import triton
import triton.language as tl


@triton.jit
def flash_kernel(
    out_ptr,
    q_ptr,
    k_ptr,
    v_ptr,
    n,
    scale,
    CAUSAL: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_N: tl.constexpr,
    D: tl.constexpr,
):
    i = tl.program_id(0)
    bh = tl.program_id(1)
    rows = i * BLOCK_M + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, D)
    base = bh * n * D
    q = tl.load(q_ptr + base + rows[:, None] * D + dims[None, :], mask=rows[:, None] < n, other=0.0)
    m = tl.full((BLOCK_M,), float("-inf"), tl.float32)
    denom = tl.zeros((BLOCK_M,), tl.float32)
    acc = tl.zeros((BLOCK_M, D), tl.float32)
    for start in range(0, n, BLOCK_N):
        keys = start + tl.arange(0, BLOCK_N)
        kmask = keys[:, None] < n
        k = tl.load(k_ptr + base + keys[:, None] * D + dims[None, :], mask=kmask, other=0.0)
        v = tl.load(v_ptr + base + keys[:, None] * D + dims[None, :], mask=kmask, other=0.0)
        s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
        keep = keys[None, :] < n
        if CAUSAL:
            keep = keep & (keys[None, :] <= rows[:, None])
        s = tl.where(keep, s, float("-inf"))
        m_new = tl.max(s, axis=1)
        # A row with nothing seen yet keeps m = -inf: shift by 0 there, not by -inf.
        safe = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp(m - safe)
        p = tl.exp(s - safe[:, None])
        denom = denom * alpha + tl.sum(p, axis=1)
        acc = acc * alpha[:, None] + tl.dot(p, v, input_precision="ieee")
        m = m_new
    denom = tl.where(denom == 0.0, 1.0, denom)
    tl.store(
        out_ptr + base + rows[:, None] * D + dims[None, :],
        acc / denom[:, None],
        mask=rows[:, None] < n,
    )


def attention(q, k, v, causal=False):
    bh, n, d = q.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    grid = (triton.cdiv(n, 16), bh)
    flash_kernel[grid](out, q, k, v, n, 1.0 / d**0.5, CAUSAL=causal, BLOCK_M=16, BLOCK_N=16, D=d)
    return out
