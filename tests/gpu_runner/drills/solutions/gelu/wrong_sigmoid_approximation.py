"""Mistake: the x * sigmoid(1.702 x) approximation."""

# expect: case normal

import torch


def gelu(x):
    return x * torch.sigmoid(1.702 * x)
