"""Rejected, though its output is right: the library GELU with the tanh approximation."""

# expect: gelu

import torch.nn.functional as F


def gelu(x):
    return F.gelu(x, approximate="tanh")
