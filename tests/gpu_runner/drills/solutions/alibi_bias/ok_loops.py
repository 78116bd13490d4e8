"""Correct: explicit loops over heads and positions."""

import torch


def alibi_bias(n_heads, seq_len):
    out = torch.zeros(n_heads, seq_len, seq_len)
    for h in range(n_heads):
        slope = 2.0 ** (-8.0 * (h + 1) / n_heads)
        for i in range(seq_len):
            for j in range(seq_len):
                out[h, i, j] = -slope * abs(i - j)
    return out
