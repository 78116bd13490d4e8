"""Mistake: uses j - i without the absolute value."""

# expect: case eight_heads

import torch


def alibi_bias(n_heads, seq_len):
    slopes = 2.0 ** (-8.0 * torch.arange(1, n_heads + 1) / n_heads)
    pos = torch.arange(seq_len)
    dist = (pos[None, :] - pos[:, None]).float()
    return -slopes[:, None, None] * dist
