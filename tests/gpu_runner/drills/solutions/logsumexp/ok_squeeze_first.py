"""Correct: reduce without keepdim and broadcast back by hand."""

import torch


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    m = x.max(dim=dim).values
    shifted = x - m.unsqueeze(dim)
    return m + shifted.exp().sum(dim=dim).log()
