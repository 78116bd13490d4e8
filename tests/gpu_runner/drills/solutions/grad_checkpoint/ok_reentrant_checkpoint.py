"""Correct: reentrant torch.utils.checkpoint, addmm and F.linear."""

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def _layers(x, w1, b1, w2, b2):
    return torch.nn.functional.linear(F.gelu(torch.addmm(b1, x, w1.T)), w2, b2)


def checkpointed_mlp(x, w1, b1, w2, b2):
    return checkpoint(_layers, x, w1, b1, w2, b2, use_reentrant=True)
