# expect: expected
import torch
import triton
import triton.language as tl


@triton.jit
def attn_kernel(
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
    keys = tl.arange(0, BLOCK_N)
    dims = tl.arange(0, D)
    base = bh * n * D
    q = tl.load(q_ptr + base + rows[:, None] * D + dims[None, :], mask=rows[:, None] < n, other=0.0)
    k = tl.load(k_ptr + base + keys[:, None] * D + dims[None, :], mask=keys[:, None] < n, other=0.0)
    v = tl.load(v_ptr + base + keys[:, None] * D + dims[None, :], mask=keys[:, None] < n, other=0.0)
    s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
    keep = keys[None, :] < n
    if CAUSAL:
        keep = keep & (keys[None, :] <= rows[:, None])
    s = tl.where(keep, s, float("-inf"))
    p = tl.exp(s - tl.max(s, axis=1)[:, None])
    p = p / tl.sum(p, axis=1)[:, None]
    out = tl.dot(p, v, input_precision="ieee")
    tl.store(out_ptr + base + rows[:, None] * D + dims[None, :], out, mask=rows[:, None] < n)


def attention(q, k, v, causal=False):
    bh, n, d = q.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    out = torch.empty_like(q)
    grid = (triton.cdiv(n, 16), bh)
    attn_kernel[grid](
        out,
        q,
        k,
        v,
        n,
        1.0 / d,
        CAUSAL=causal,
        BLOCK_M=16,
        BLOCK_N=max(16, triton.next_power_of_2(n)),
        D=d,
    )
    return out
