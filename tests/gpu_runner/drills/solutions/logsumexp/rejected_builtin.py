"""Rejected, though its output is right: the library reduction."""

# expect: logsumexp

import torch


def logsumexp(x, dim=-1):
    return torch.logsumexp(x, dim=dim)
