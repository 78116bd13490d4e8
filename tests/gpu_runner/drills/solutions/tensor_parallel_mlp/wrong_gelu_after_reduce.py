"""Mistake: the gelu is applied after the all-reduce instead of on each rank's slice."""

# expect: y\[.*expected

import torch.nn.functional as F


def tensor_parallel_mlp(x, w1, b1, w2, b2, world_size):
    s = w1.shape[0] // world_size
    hidden, partials = [], []
    for r in range(world_size):
        rows = slice(r * s, (r + 1) * s)
        h = F.gelu(x @ w1[rows].T + b1[rows])
        hidden.append(h)
        partials.append(h @ w2[:, rows].T)
    return F.gelu(sum(partials)) + b2, hidden, partials
