"""Mistake: drops the 0.044715 x^3 term."""

# expect: case normal

import math

import torch


def gelu(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * x))
