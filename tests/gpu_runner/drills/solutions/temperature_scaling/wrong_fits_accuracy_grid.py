"""Mistake: a coarse grid of temperatures (0.5 steps): the NLL is not minimised."""

# expect: gives NLL

import torch


def fit_temperature(logits, labels):
    grid = [0.5 * i for i in range(1, 21)]
    return min(grid, key=lambda t: float(torch.nn.functional.cross_entropy(logits / t, labels)))
