"""Triton kernel drills of selection and tiling: top-k filtering and a tiled matmul."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Tolerance, torch_generator
from gpu_runner.drills.kernels.base import MATMUL_CALLS, TOP_K_CALLS, KernelDrill, kernel_template

TOP_K_KERNEL = '''
@triton.jit
def top_k_kernel(out_ptr, x_ptr, n_cols, k, BLOCK: tl.constexpr):
    """One program per row: keep the k largest of x[row, :], set the rest to -inf."""
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=float("-inf"))
    # TODO: find the k-th largest value (k rounds of tl.max, removing each maximum found),
    # then store tl.where(x >= kth, x, -inf) with mask=mask.
'''

TOP_K_LAUNCHER = '''
def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Return the 2-D logits with all but the k largest of each row set to -inf."""
    rows, n_cols = logits.shape
    logits = logits.contiguous()
    out = torch.empty_like(logits)
    top_k_kernel[(rows,)](out, logits, n_cols, k, BLOCK=triton.next_power_of_2(n_cols))
    return out
'''


def top_k_reference(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Return the logits with all but the k largest per row set to -inf."""
    kth = torch.sort(logits, dim=-1, descending=True).values[..., k - 1 : k]
    return logits.masked_fill(logits < kth, float("-inf"))


class TritonTopK(KernelDrill):
    """Top-k logit filtering as a Triton kernel."""

    id = "triton_top_k"
    title = "Top-k filtering as a Triton kernel"
    entry = "top_k_filter"
    variant_of = "top_k_filter"
    signature = "def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor"
    docstring = """\
Return the 2-D float32 `logits` with all but the k largest values of each row
set to -inf, computed by a Triton kernel. Kept values are unchanged.

Rows have no ties; 1 <= k <= the row length, which is not a power of two
(padded lanes must never be picked). Logits may all be negative."""
    template = kernel_template("triton_top_k", TOP_K_KERNEL, TOP_K_LAUNCHER)
    reference_impl = staticmethod(top_k_reference)
    library_calls = TOP_K_CALLS
    upcast_reference = False
    tolerances = {"float32": Tolerance(0.0, 0.0)}
    public_cases = (Case("rows", {"shape": (4, 20), "k": 3}),)
    secret_cases = (
        Case("k_is_one", {"shape": (5, 33), "k": 1}),
        Case("k_is_all", {"shape": (3, 17), "k": 17}),
        Case("all_negative", {"shape": (6, 50), "k": 7, "offset": -50.0}),
        Case("wide", {"shape": (2, 300), "k": 12}),
    )
    bench_cases = (Case("bench_256x32000_k50", {"shape": (256, 32000), "k": 50}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded tie-free logits and k."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        rows, cols = p["shape"]
        # A random permutation per row scaled apart: no two values of a row are equal.
        ranks = torch.argsort(torch.rand(rows, cols, generator=gen), dim=-1).to(torch.float64)
        noise = torch.rand(rows, cols, generator=gen, dtype=torch.float64) * 0.5
        x = (ranks + noise) * 0.37 + float(p.get("offset", 0.0))
        return FunctionCall((x.to(torch.float32).to(device),), {"k": int(p["k"])})


MATMUL_KERNEL = '''
@triton.jit
def matmul_kernel(
    c_ptr, a_ptr, b_ptr, M, N, K,
    BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr,
):
    """Program (i, j): the BLOCK_M x BLOCK_N tile of c = a @ b at rows i*BLOCK_M, cols j*BLOCK_N."""
    i = tl.program_id(0)
    j = tl.program_id(1)
    rows = i * BLOCK_M + tl.arange(0, BLOCK_M)
    cols = j * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for start in range(0, K, BLOCK_K):
        ks = start + tl.arange(0, BLOCK_K)
        # TODO: load the (BLOCK_M, BLOCK_K) tile of a and the (BLOCK_K, BLOCK_N) tile of b,
        # zero outside M, N and K, and accumulate tl.dot(a_tile, b_tile, input_precision="ieee").
        pass
    # TODO: store acc at c_ptr + rows[:, None] * N + cols[None, :] inside M and N.
'''

MATMUL_LAUNCHER = '''
def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a @ b for a of shape (M, K) and b of shape (K, N), tile by tile."""
    (M, K), (_, N) = a.shape, b.shape
    a, b = a.contiguous(), b.contiguous()
    c = torch.empty(M, N, dtype=a.dtype, device=a.device)
    block = 32
    grid = (triton.cdiv(M, block), triton.cdiv(N, block))
    matmul_kernel[grid](c, a, b, M, N, K, BLOCK_M=block, BLOCK_N=block, BLOCK_K=block)
    return c
'''


def matmul_reference(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Return a @ b in PyTorch."""
    return a @ b


class TritonMatmul(KernelDrill):
    """A tiled matrix multiply with a K loop, as a Triton kernel."""

    id = "triton_matmul"
    title = "Tiled matmul as a Triton kernel"
    entry = "matmul"
    signature = "def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor"
    docstring = """\
Return a @ b for float32 a (M, K) and b (K, N), computed by a Triton kernel in
which each program owns one output tile and walks K one tile at a time,
accumulating in float32.

M, N and K are not multiples of the tile: mask every load (zeros outside) and
the store. On a GPU, tl.dot defaults to TF32; ask for input_precision="ieee"
or the error grows past the tolerance."""
    template = kernel_template("triton_matmul", MATMUL_KERNEL, MATMUL_LAUNCHER)
    reference_impl = staticmethod(matmul_reference)
    library_calls = MATMUL_CALLS
    tolerances = {"float64": Tolerance(1e-9, 1e-10), "float32": Tolerance(1e-4, 1e-4)}
    public_cases = (Case("square", {"m": 32, "k": 32, "n": 32}),)
    secret_cases = (
        Case("ragged", {"m": 33, "k": 47, "n": 29}),
        Case("long_k", {"m": 16, "k": 150, "n": 40}),
        Case("thin", {"m": 5, "k": 64, "n": 70}),
    )
    bench_cases = (Case("bench_1024", {"m": 1024, "k": 1024, "n": 1024}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded a and b."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        m, k, n = int(p["m"]), int(p["k"]), int(p["n"])
        a = torch.randn(m, k, generator=gen, dtype=torch.float64).to(torch.float32)
        b = torch.randn(k, n, generator=gen, dtype=torch.float64).to(torch.float32)
        return FunctionCall((a.to(device), b.to(device)), {})


TOP_K = TritonTopK()
MATMUL = TritonMatmul()
