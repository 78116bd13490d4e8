"""Mistake: a hand-written softmax without the max shift."""

# expect: case (sharp_scores|negative_scores|sharp_causal).*NaN

import math

import torch


def attention(q, k, v, causal=False):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.size(-1))
    if causal:
        n = scores.size(-1)
        scores = scores.masked_fill(torch.ones(n, n).triu(1).bool(), float("-inf"))
    w = torch.exp(scores)
    return (w / w.sum(dim=-1, keepdim=True)) @ v
