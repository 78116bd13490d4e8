"""Mistake: filtered logits become 0, not -inf."""

# expect: = 0, expected -inf

import torch


def top_k_filter(logits, k):
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0)
