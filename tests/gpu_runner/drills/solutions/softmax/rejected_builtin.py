"""Rejected, though its output is right: the library softmax."""

# expect: softmax

import torch


def softmax(x, dim=-1):
    return torch.softmax(x, dim=dim)
