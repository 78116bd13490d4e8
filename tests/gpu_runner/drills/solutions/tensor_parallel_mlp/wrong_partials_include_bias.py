"""Mistake: right y, but each rank's partial carries b2 / world_size instead of no bias."""

# expect: partials\[0\]

import torch.nn.functional as F


def tensor_parallel_mlp(x, w1, b1, w2, b2, world_size):
    s = w1.shape[0] // world_size
    hidden, partials = [], []
    for r in range(world_size):
        rows = slice(r * s, (r + 1) * s)
        h = F.gelu(x @ w1[rows].T + b1[rows])
        hidden.append(h)
        partials.append(h @ w2[:, rows].T + b2 / world_size)
    return sum(partials), hidden, partials
