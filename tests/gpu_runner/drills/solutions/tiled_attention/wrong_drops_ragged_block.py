"""Mistake: assumes block_size divides seq."""

# expect: case ragged_last_block

import math

import torch


def tiled_attention(q, k, v, block_size):
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype)
    total = torch.zeros_like(m)
    o = torch.zeros_like(q)
    for b in range(k.shape[-2] // block_size):
        blk = slice(b * block_size, (b + 1) * block_size)
        s = (q @ k[..., blk, :].transpose(-1, -2)) * scale
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        c = torch.exp(m - m_new)
        p = torch.exp(s - m_new)
        total = total * c + p.sum(dim=-1, keepdim=True)
        o = o * c + p @ v[..., blk, :]
        m = m_new
    return o / total
