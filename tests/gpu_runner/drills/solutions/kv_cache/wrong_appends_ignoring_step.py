"""Mistake: appends every update, ignoring `step`, so a rewrite after a rollback adds a token."""

# expect: op \d+ get\(.*has shape

import torch


class KVCache:
    def __init__(self, n_layers, n_heads, max_seq, head_dim):
        self.k = [[] for _ in range(n_layers)]
        self.v = [[] for _ in range(n_layers)]

    def update(self, layer, step, new_k, new_v):
        self.k[layer].append(new_k)
        self.v[layer].append(new_v)

    def get(self, layer, end_step):
        return torch.stack(self.k[layer], dim=1), torch.stack(self.v[layer], dim=1)
