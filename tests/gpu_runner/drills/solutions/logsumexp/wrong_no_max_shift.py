"""Mistake: log(sum(exp(x))) overflows."""

# expect: case (large_logits|very_negative_logits).*inf

import torch


def logsumexp(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    return torch.log(torch.exp(x).sum(dim=dim))
