"""Correct: float32 throughout with broadcasting."""

import torch


def alibi_bias(n_heads: int, seq_len: int) -> torch.Tensor:
    slopes = torch.pow(2.0, -8.0 * torch.arange(1, n_heads + 1) / n_heads)
    pos = torch.arange(seq_len)
    dist = (pos.view(1, -1) - pos.view(-1, 1)).abs().float()
    return -slopes.view(-1, 1, 1) * dist
