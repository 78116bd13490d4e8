"""Mistake: exp of raw logits overflows for large logits."""

# expect: case (large_logits|very_negative_logits|wide_spread).*NaN

import torch


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
