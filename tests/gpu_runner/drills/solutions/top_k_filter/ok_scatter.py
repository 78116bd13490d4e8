"""Correct: scatter the top-k values into a row of -inf."""

import torch


def top_k_filter(logits, k):
    values, index = torch.topk(logits, k, dim=-1)
    out = torch.full_like(logits, float("-inf"))
    return out.scatter(-1, index, values)
