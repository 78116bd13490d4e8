# expect: inf|expected
import torch
import triton
import triton.language as tl


@triton.jit
def lse_kernel(out_ptr, x_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols, other=float("-inf"))
    m = 0.0
    tl.store(out_ptr + row, m + tl.log(tl.sum(tl.exp(x - m), axis=0)))


def logsumexp(x: torch.Tensor) -> torch.Tensor:
    rows, n_cols = x.shape
    out = torch.empty(rows, dtype=x.dtype)
    lse_kernel[(rows,)](out, x.contiguous(), n_cols, BLOCK=triton.next_power_of_2(n_cols))
    return out
