"""Correct: threshold at the k-th largest value."""

import torch


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = logits.sort(dim=-1, descending=True).values[..., k - 1 : k]
    return torch.where(logits >= kth, logits, torch.tensor(float("-inf")))
