"""Mistake: one maximum for the whole tensor."""

# expect: case (rows_far_apart|first_dim).*-inf

import torch


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    m = x.max()
    return m + torch.log(torch.exp(x - m).sum(dim=dim))
