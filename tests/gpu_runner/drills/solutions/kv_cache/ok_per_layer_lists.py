"""Correct: one (heads, max_seq, dim) pair of tensors per layer, copied out on get."""

import torch


class KVCache:
    def __init__(self, n_layers, n_heads, max_seq, head_dim):
        self.k = [torch.empty(n_heads, max_seq, head_dim) for _ in range(n_layers)]
        self.v = [torch.empty(n_heads, max_seq, head_dim) for _ in range(n_layers)]

    def update(self, layer, step, new_k, new_v):
        self.k[layer][:, step].copy_(new_k)
        self.v[layer][:, step].copy_(new_v)
        return step + 1

    def get(self, layer, end_step):
        return [self.k[layer].narrow(1, 0, end_step).clone(), self.v[layer][:, :end_step].clone()]
