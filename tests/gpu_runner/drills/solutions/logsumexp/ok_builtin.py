"""Correct: the library reduction."""

import torch


def logsumexp(x, dim=-1):
    return torch.logsumexp(x, dim=dim)
