# expect: expected
import math

import torch
import triton
import triton.language as tl


@triton.jit
def rope_kernel(out_ptr, x_ptr, pos_ptr, seq, log_base, HALF: tl.constexpr):
    s = tl.program_id(0)
    h = tl.program_id(1)
    i = tl.arange(0, HALF)
    row = (h * seq + s) * 2 * HALF
    even = tl.load(x_ptr + row + 2 * i)
    odd = tl.load(x_ptr + row + 2 * i + 1)
    pos = tl.load(pos_ptr + s).to(tl.float32)
    inv_freq = tl.exp(-(2.0 * i.to(tl.float32) / (2 * HALF)) * log_base)
    angle = pos * inv_freq
    c = tl.cos(angle)
    sn = tl.sin(angle)
    tl.store(out_ptr + row + 2 * i, even * c - odd * sn)
    tl.store(out_ptr + row + 2 * i + 1, odd * c - even * sn)


def apply_rope(x, positions, base=10000.0):
    heads, seq, dim = x.shape
    x = x.contiguous()
    out = torch.empty_like(x)
    rope_kernel[(seq, heads)](out, x, positions, seq, math.log(base), HALF=dim // 2)
    return out
