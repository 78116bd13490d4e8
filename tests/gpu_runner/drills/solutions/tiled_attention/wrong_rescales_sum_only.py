"""Mistake: rescales the running sum but not the output o."""

# expect: case two_blocks .*differ

import math

import torch


def tiled_attention(q, k, v, block_size):
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype)
    total = torch.zeros_like(m)
    o = torch.zeros_like(q)
    for start in range(0, k.shape[-2], block_size):
        s = (q @ k[..., start : start + block_size, :].transpose(-1, -2)) * scale
        m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
        p = torch.exp(s - m_new)
        total = total * torch.exp(m - m_new) + p.sum(dim=-1, keepdim=True)
        o = o + p @ v[..., start : start + block_size, :]
        m = m_new
    return o / total
