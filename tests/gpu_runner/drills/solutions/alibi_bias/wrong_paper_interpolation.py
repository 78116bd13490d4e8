"""Mistake: the paper's interpolation for non-power-of-two head counts."""

# expect: case (twelve_heads|six_heads)

import math

import torch


def _slopes(n):
    start = 2.0 ** (-8.0 / n)
    return [start ** (i + 1) for i in range(n)]


def alibi_bias(n_heads, seq_len):
    if math.log2(n_heads).is_integer():
        slopes = _slopes(n_heads)
    else:
        closest = 2 ** math.floor(math.log2(n_heads))
        slopes = _slopes(closest) + _slopes(2 * closest)[0::2][: n_heads - closest]
    s = torch.tensor(slopes, dtype=torch.float32)
    pos = torch.arange(seq_len)
    dist = (pos[None, :] - pos[:, None]).abs().float()
    return -s[:, None, None] * dist
