"""Correct: F.linear for both paths."""

import torch.nn.functional as F


def lora_linear(x, weight, lora_a, lora_b, alpha, r):
    return F.linear(x, weight) + F.linear(F.linear(x, lora_a), lora_b) * (alpha / r)
