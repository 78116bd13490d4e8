"""Mistake: compares against the (k+1)-th value."""

# expect: case (rows|greedy) .*expected -inf

import torch


def top_k_filter(logits, k):
    n = logits.shape[-1]
    kth = torch.topk(logits, min(k + 1, n), dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
