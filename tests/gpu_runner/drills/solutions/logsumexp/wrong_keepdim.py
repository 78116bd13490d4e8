"""Mistake: keeps the reduced dimension."""

# expect: case rows .*has shape \(4, 1\), expected \(4,\)

import torch


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    m = x.amax(dim=dim, keepdim=True)
    return m + torch.log(torch.exp(x - m).sum(dim=dim, keepdim=True))
