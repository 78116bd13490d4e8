# expect: expected
import torch
import triton
import triton.language as tl


@triton.jit
def top_k_kernel(out_ptr, x_ptr, n_cols, k, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("-inf"))
    work = x
    kth = tl.max(work, axis=0)
    for _ in range(k):
        kth = tl.max(work, axis=0)
        work = tl.where(work == kth, float("-inf"), work)
    tl.store(out_ptr + row * n_cols + cols, tl.where(x > kth, x, float("-inf")), mask=mask)


def top_k_filter(logits, k):
    rows, n_cols = logits.shape
    logits = logits.contiguous()
    out = torch.empty_like(logits)
    top_k_kernel[(rows,)](out, logits, n_cols, k, BLOCK=triton.next_power_of_2(n_cols))
    return out
