"""Correct: keep the lower triangle and use torch.softmax."""

import math

import torch


def attention(q, k, v, causal=False):
    scores = q @ k.transpose(-1, -2) * (1.0 / math.sqrt(q.size(-1)))
    if causal:
        n = scores.size(-1)
        keep = torch.tril(torch.ones(n, n, dtype=torch.bool))
        scores = scores.masked_fill(~keep, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
