"""Mistake: the causal mask also hides the diagonal."""

# expect: case small_causal .*NaN

import math

import torch


def attention(q, k, v, causal=False):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
    if causal:
        n = scores.size(-1)
        scores = scores.masked_fill(torch.ones(n, n).triu(0).bool(), float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
