"""Mistake: get returns steps 0..end_step inclusive."""

# expect: op \d+ get\(

import torch


class KVCache:
    def __init__(self, n_layers, n_heads, max_seq, head_dim):
        self.keys = torch.zeros(n_layers, n_heads, max_seq, head_dim)
        self.values = torch.zeros(n_layers, n_heads, max_seq, head_dim)

    def update(self, layer, step, new_k, new_v):
        self.keys[layer, :, step] = new_k
        self.values[layer, :, step] = new_v

    def get(self, layer, end_step):
        return self.keys[layer, :, : end_step + 1], self.values[layer, :, : end_step + 1]
