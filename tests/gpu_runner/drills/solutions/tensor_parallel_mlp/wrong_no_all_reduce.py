"""Mistake: no all-reduce: y is rank 0's partial plus b2."""

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
    return partials[0] + b2, hidden, partials
