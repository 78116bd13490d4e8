"""Mistake: one maximum for the whole tensor, not per row."""

# expect: case (rows_far_apart|first_dim|wide_spread).*NaN

import torch


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    e = torch.exp(x - x.max())
    return e / e.sum(dim=dim, keepdim=True)
