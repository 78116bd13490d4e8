"""Triton kernel drills over rows: softmax, logsumexp, GELU and a fused layer norm."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Tolerance, torch_generator
from gpu_runner.drills.generators import case_logits
from gpu_runner.drills.kernels.base import LAYER_NORM_CALLS, KernelDrill, kernel_template
from gpu_runner.library_calls import (
    GELU_CALLS,
    LOG_SOFTMAX_CALLS,
    LOGSUMEXP_CALLS,
    SOFTMAX_CALLS,
)

# Shapes stay small: under Triton's interpreter every program of the grid runs in Python.
ROW_TOLERANCES = {
    "float64": Tolerance(1e-10, 1e-12),
    "float32": Tolerance(2e-4, 1e-6),
}


def _rows(drill_id: str, case: Case, seed: int, device: str) -> torch.Tensor:
    return case_logits(drill_id, case, seed, device).contiguous()


# --- softmax ---------------------------------------------------------------------------------

SOFTMAX_KERNEL = '''
@triton.jit
def softmax_kernel(out_ptr, x_ptr, n_cols, BLOCK: tl.constexpr):
    """One program per row: out[row, :] = softmax(x[row, :]) over its n_cols entries."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("-inf"))
    # TODO: compute the softmax of x (stable for logits in the thousands, and for -inf
    # entries) and store it with tl.store(out_ptr + row * n_cols + cols, ..., mask=mask).
'''

SOFTMAX_LAUNCHER = '''
def softmax(x: torch.Tensor) -> torch.Tensor:
    """Return the softmax of the 2-D tensor x along its last dimension."""
    rows, n_cols = x.shape
    x = x.contiguous()
    out = torch.empty_like(x)
    softmax_kernel[(rows,)](out, x, n_cols, BLOCK=triton.next_power_of_2(n_cols))
    return out
'''


def softmax_reference(x: torch.Tensor) -> torch.Tensor:
    """Return the softmax along the last dimension in eager PyTorch (the reference to beat)."""
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)


class TritonSoftmax(KernelDrill):
    """Row softmax as a Triton kernel."""

    id = "triton_softmax"
    title = "Softmax as a Triton kernel"
    entry = "softmax"
    variant_of = "softmax"
    signature = "def softmax(x: torch.Tensor) -> torch.Tensor"
    docstring = """\
Return the softmax of the 2-D float32 tensor `x` along its last dimension,
computed by a Triton kernel (one program per row is the plain design).

The row length is not a power of two: mask the tail. Logits reach the
thousands (positive and negative), so subtract the row's maximum before exp;
rows may hold -inf entries (probability 0) but never only -inf."""
    template = kernel_template("triton_softmax", SOFTMAX_KERNEL, SOFTMAX_LAUNCHER)
    reference_impl = staticmethod(softmax_reference)
    library_calls = SOFTMAX_CALLS + LOG_SOFTMAX_CALLS
    bank_questions = (466,)
    tolerances = ROW_TOLERANCES
    public_cases = (
        Case("rows", {"shape": (4, 10)}),
        Case("wide_rows", {"shape": (6, 129), "scale": 3.0}),
    )
    secret_cases = (
        Case("large_logits", {"shape": (8, 33), "scale": 30.0, "offset": 600.0}),
        Case("very_negative_logits", {"shape": (5, 19), "scale": 10.0, "offset": -900.0}),
        Case("rows_far_apart", {"shape": (7, 29), "scale": 2.0, "row_spread": 400.0}),
        Case("masked", {"shape": (6, 21), "masked": 0.3}),
        Case("one_column", {"shape": (3, 1), "scale": 5.0}),
    )
    bench_cases = (Case("bench_4096x1024", {"shape": (4096, 1024), "scale": 4.0}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded 2-D logits."""
        return FunctionCall((_rows(self.id, case, seed, device),), {})


# --- logsumexp -------------------------------------------------------------------------------

LOGSUMEXP_KERNEL = '''
@triton.jit
def logsumexp_kernel(out_ptr, x_ptr, n_cols, BLOCK: tl.constexpr):
    """One program per row: out[row] = log(sum(exp(x[row, :])))."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("-inf"))
    # TODO: compute the row's logsumexp without overflow and store it at out_ptr + row.
'''

LOGSUMEXP_LAUNCHER = '''
def logsumexp(x: torch.Tensor) -> torch.Tensor:
    """Return the logsumexp of each row of the 2-D tensor x (shape (rows,))."""
    rows, n_cols = x.shape
    x = x.contiguous()
    out = torch.empty(rows, dtype=x.dtype, device=x.device)
    logsumexp_kernel[(rows,)](out, x, n_cols, BLOCK=triton.next_power_of_2(n_cols))
    return out
'''


def logsumexp_reference(x: torch.Tensor) -> torch.Tensor:
    """Return the logsumexp of each row in eager PyTorch."""
    m = x.amax(dim=-1)
    return m + torch.log(torch.exp(x - m[:, None]).sum(dim=-1))


class TritonLogsumexp(KernelDrill):
    """Row logsumexp as a Triton kernel."""

    id = "triton_logsumexp"
    title = "Logsumexp as a Triton kernel"
    entry = "logsumexp"
    variant_of = "logsumexp"
    signature = "def logsumexp(x: torch.Tensor) -> torch.Tensor"
    docstring = """\
Return log(sum(exp(x))) of each row of the 2-D float32 tensor `x`, shape
(rows,), computed by a Triton kernel.

Logits reach the thousands, positive and negative; rows may hold -inf entries
but never only -inf. The row length is not a power of two."""
    template = kernel_template("triton_logsumexp", LOGSUMEXP_KERNEL, LOGSUMEXP_LAUNCHER)
    reference_impl = staticmethod(logsumexp_reference)
    library_calls = LOGSUMEXP_CALLS + SOFTMAX_CALLS + LOG_SOFTMAX_CALLS
    bank_questions = (467,)
    tolerances = {"float64": Tolerance(1e-10, 1e-12), "float32": Tolerance(1e-5, 1e-5)}
    public_cases = (Case("rows", {"shape": (4, 10)}),)
    secret_cases = (
        Case("large_logits", {"shape": (8, 33), "scale": 30.0, "offset": 800.0}),
        Case("very_negative_logits", {"shape": (5, 19), "scale": 10.0, "offset": -900.0}),
        Case("masked", {"shape": (6, 45), "masked": 0.4}),
        Case("wide_rows", {"shape": (3, 300), "scale": 5.0}),
    )
    bench_cases = (Case("bench_4096x1024", {"shape": (4096, 1024), "scale": 4.0}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded 2-D logits."""
        return FunctionCall((_rows(self.id, case, seed, device),), {})


# --- GELU ------------------------------------------------------------------------------------

GELU_KERNEL = '''
@triton.jit
def gelu_kernel(out_ptr, x_ptr, n, BLOCK: tl.constexpr):
    """Elementwise over n values: out = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    start = tl.program_id(0) * BLOCK
    offsets = start + tl.arange(0, BLOCK)
    mask = offsets < n
    x = tl.load(x_ptr + offsets, mask=mask, other=0.0)
    # TODO: compute the tanh-approximated GELU (tanh from exp must not give inf / inf for
    # |x| in the tens) and store it with tl.store(out_ptr + offsets, ..., mask=mask).
'''

GELU_LAUNCHER = '''
def gelu(x: torch.Tensor) -> torch.Tensor:
    """Return GELU(x) (tanh approximation) elementwise; x is contiguous, any shape."""
    x = x.contiguous()
    out = torch.empty_like(x)
    n = x.numel()
    block = 1024
    gelu_kernel[(triton.cdiv(n, block),)](out, x, n, BLOCK=block)
    return out
'''

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu_reference(x: torch.Tensor) -> torch.Tensor:
    """Return the tanh-approximated GELU of `x`."""
    inner = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)
    return 0.5 * x * (1.0 + torch.tanh(inner))


class TritonGelu(KernelDrill):
    """GELU (tanh approximation) as an elementwise Triton kernel."""

    id = "triton_gelu"
    title = "GELU as a Triton kernel"
    entry = "gelu"
    variant_of = "gelu"
    signature = "def gelu(x: torch.Tensor) -> torch.Tensor"
    docstring = """\
Return GELU(x) with the tanh approximation, elementwise, computed by a Triton
kernel over the flattened float32 tensor:

    0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))

Triton has no tanh of its own in every version: build it from exp, and keep it
finite where |x| is in the tens (exp of a large argument is inf). The element
count is not a multiple of the block size."""
    template = kernel_template("triton_gelu", GELU_KERNEL, GELU_LAUNCHER)
    reference_impl = staticmethod(gelu_reference)
    reference_imports = ("import math", "import torch", "SQRT_2_OVER_PI = math.sqrt(2 / math.pi)")
    library_calls = GELU_CALLS
    tolerances = {"float64": Tolerance(1e-10, 1e-12), "float32": Tolerance(1e-5, 1e-6)}
    public_cases = (Case("small", {"shape": (3, 100), "scale": 2.0}),)
    secret_cases = (
        Case("large_magnitude", {"shape": (5, 77), "scale": 25.0}),
        Case("ragged_tail", {"shape": (1301,), "scale": 3.0}),
        Case("three_dims", {"shape": (2, 3, 50), "scale": 6.0}),
    )
    bench_cases = (Case("bench_16M", {"shape": (4096, 4096), "scale": 3.0}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a seeded tensor of the case's shape and scale."""
        return FunctionCall((_rows(self.id, case, seed, device),), {})


# --- fused layer norm ------------------------------------------------------------------------

LAYER_NORM_KERNEL = '''
@triton.jit
def layer_norm_kernel(out_ptr, x_ptr, w_ptr, b_ptr, n_cols, eps, BLOCK: tl.constexpr):
    """One program per row: normalise x[row, :] to zero mean and unit variance, scale, shift."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    b = tl.load(b_ptr + cols, mask=mask, other=0.0)
    # TODO: mean and (biased) variance over the n_cols real entries only, then
    # out = (x - mean) / sqrt(var + eps) * w + b, stored with mask=mask.
'''

LAYER_NORM_LAUNCHER = '''
def layer_norm(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Return the layer norm of each row of the 2-D tensor x, scaled by weight, shifted by bias."""
    rows, n_cols = x.shape
    x = x.contiguous()
    out = torch.empty_like(x)
    block = triton.next_power_of_2(n_cols)
    layer_norm_kernel[(rows,)](out, x, weight, bias, n_cols, eps, BLOCK=block)
    return out
'''


def layer_norm_reference(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Return the layer norm over the last dimension in eager PyTorch (two passes)."""
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * weight + bias


class TritonLayerNorm(KernelDrill):
    """A fused layer norm (statistics, normalisation, affine) in one Triton kernel."""

    id = "triton_layer_norm"
    title = "Fused layer norm as a Triton kernel"
    entry = "layer_norm"
    signature = (
        "def layer_norm(\n    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, "
        "eps: float = 1e-5\n) -> torch.Tensor"
    )
    docstring = """\
Return the layer norm of each row of the 2-D float32 tensor `x` in one fused
Triton kernel: (x - mean) / sqrt(var + eps) * weight + bias, with the mean and
the biased variance (divide by n, not n - 1) of the row's real entries.

The row length is not a power of two: padded lanes must not enter the mean or
the variance. Rows may sit far from zero (an offset of hundreds), where
E[x^2] - E[x]^2 in float32 loses every digit: use the two-pass form."""
    template = kernel_template("triton_layer_norm", LAYER_NORM_KERNEL, LAYER_NORM_LAUNCHER)
    reference_impl = staticmethod(layer_norm_reference)
    library_calls = LAYER_NORM_CALLS
    tolerances = {"float64": Tolerance(1e-10, 1e-12), "float32": Tolerance(1e-4, 1e-4)}
    public_cases = (Case("rows", {"shape": (4, 24)}),)
    secret_cases = (
        Case("ragged_rows", {"shape": (6, 100), "scale": 2.0}),
        Case("offset_rows", {"shape": (5, 61), "scale": 1.0, "offset": 300.0}),
        Case("eps_matters", {"shape": (3, 40), "scale": 1e-3, "eps": 1e-2}),
    )
    bench_cases = (Case("bench_4096x1024", {"shape": (4096, 1024)}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded rows, a weight and a bias, and eps."""
        x = _rows(self.id, case, seed, device)
        gen = torch_generator(self.id, Case(case.name + "/affine"), seed)
        n = x.shape[-1]
        weight = (1.0 + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)).to(x.dtype)
        bias = (0.5 * torch.randn(n, generator=gen, dtype=torch.float64)).to(x.dtype)
        eps = float(case.params.get("eps", 1e-5))
        return FunctionCall((x, weight.to(device), bias.to(device)), {"eps": eps})


SOFTMAX = TritonSoftmax()
LOGSUMEXP = TritonLogsumexp()
GELU = TritonGelu()
LAYER_NORM = TritonLayerNorm()
