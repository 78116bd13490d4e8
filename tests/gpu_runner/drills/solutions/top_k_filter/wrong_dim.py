"""Mistake: takes the top k down the batch dimension."""

# expect: case (rows|greedy)

import torch


def top_k_filter(logits, k):
    kth = torch.topk(logits, k, dim=0).values[-1:]
    return logits.masked_fill(logits < kth, float("-inf"))
