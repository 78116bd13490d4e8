"""Mistake: divides by head_dim instead of its square root."""

# expect: case small .*tolerance

import torch


def attention(q, k, v, causal=False):
    scores = q @ k.transpose(-1, -2) / q.size(-1)
    if causal:
        n = scores.size(-1)
        scores = scores.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
