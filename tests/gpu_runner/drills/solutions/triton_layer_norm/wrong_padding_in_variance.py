# expect: expected
import torch
import triton
import triton.language as tl


@triton.jit
def ln_kernel(out_ptr, x_ptr, w_ptr, b_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    mean = tl.sum(x, axis=0) / n_cols
    d = x - mean
    var = tl.sum(d * d, axis=0) / n_cols
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    tl.store(out_ptr + row * n_cols + cols, d / tl.sqrt(var + eps) * w + b, mask=mask)


def layer_norm(x, weight, bias, eps=1e-5):
    rows, n_cols = x.shape
    out = torch.empty_like(x)
    ln_kernel[(rows,)](
        out, x.contiguous(), weight, bias, n_cols, eps, BLOCK=triton.next_power_of_2(n_cols)
    )
    return out
