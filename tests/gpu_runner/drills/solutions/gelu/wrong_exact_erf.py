"""Mistake: the exact erf GELU, not the tanh approximation."""

# expect: case (normal|around_two) .*largest finite error

import torch


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / 2.0**0.5))
