"""Reference of the axpy-relu problem: inputs, the answer, and the check."""

import torch
from task import input_t, output_t
from utils import close_to


def ref_kernel(data: input_t) -> output_t:
    """Return relu(alpha * x + y)."""
    x, y, alpha = data
    return torch.relu(alpha * x + y)


def generate_input(rows: int, cols: int, seed: int) -> input_t:
    """Return seeded x, y and alpha."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, cols, generator=gen)
    y = torch.randn(rows, cols, generator=gen)
    alpha = float(torch.rand((), generator=gen)) * 3.0 - 1.5
    return x, y, alpha


def check_implementation(data: input_t, output: output_t):
    """Return (ok, message): the output against the reference's."""
    return close_to(ref_kernel(data), output)
