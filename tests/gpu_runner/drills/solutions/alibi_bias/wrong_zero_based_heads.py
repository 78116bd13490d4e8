"""Mistake: counts heads from 0, so head 0 gets slope 1."""

# expect: case eight_heads .*output\[0,

import torch


def alibi_bias(n_heads, seq_len):
    slopes = 2.0 ** (-8.0 * torch.arange(n_heads) / n_heads)
    pos = torch.arange(seq_len)
    dist = (pos[None, :] - pos[:, None]).abs().float()
    return -slopes[:, None, None] * dist
