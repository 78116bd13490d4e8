"""Mistake: keeps one token past the one that crosses p."""

# expect: case rows .*expected -inf

import torch


def top_p_filter(logits, p):
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    drop_sorted = torch.zeros_like(before, dtype=torch.bool)
    drop_sorted[..., 1:] = (before >= p)[..., :-1]
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))
