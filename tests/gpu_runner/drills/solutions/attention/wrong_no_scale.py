"""Mistake: forgets the 1/sqrt(head_dim) scale."""

# expect: case small .*differ

import torch


def attention(q, k, v, causal=False):
    scores = q @ k.transpose(-1, -2)
    if causal:
        n = scores.size(-1)
        scores = scores.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
