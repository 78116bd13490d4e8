"""Mistake: every rank computes the whole layer (replicated weights, the work is not split)."""

# expect: local_hidden\[0\] should be a tensor of shape

import torch.nn.functional as F


def tensor_parallel_mlp(x, w1, b1, w2, b2, world_size):
    hidden = [F.gelu(x @ w1.T + b1) for _ in range(world_size)]
    partials = [h @ w2.T / world_size for h in hidden]
    return sum(partials) + b2, hidden, partials
