"""Mistake: returns float64."""

# expect: dtype float64, expected float32

import torch


def alibi_bias(n_heads, seq_len):
    slopes = 2.0 ** (-8.0 * torch.arange(1, n_heads + 1, dtype=torch.float64) / n_heads)
    pos = torch.arange(seq_len, dtype=torch.float64)
    return -slopes[:, None, None] * (pos[None, :] - pos[:, None]).abs()
