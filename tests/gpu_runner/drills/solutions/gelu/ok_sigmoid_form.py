"""Correct: 0.5 * (1 + tanh(u)) written as sigmoid(2u)."""

import math

import torch


def gelu(x):
    u = math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))
    return x * torch.sigmoid(2.0 * u)
