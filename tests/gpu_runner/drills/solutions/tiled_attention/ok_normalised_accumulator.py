"""Correct: keep o normalised after every block."""

import math

import torch


def tiled_attention(q, k, v, block_size):
    scale = 1.0 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1], float("-inf"), dtype=q.dtype)
    total = torch.zeros(q.shape[:-1], dtype=q.dtype)
    o = torch.zeros_like(q)
    for start in range(0, k.shape[-2], block_size):
        s = (q @ k[..., start : start + block_size, :].transpose(-1, -2)) * scale
        m_blk = s.max(dim=-1).values
        m_new = torch.maximum(m, m_blk)
        p = torch.exp(s - m_new[..., None])
        total_new = torch.exp(m - m_new) * total + p.sum(dim=-1)
        o = (
            o * (total * torch.exp(m - m_new))[..., None]
            + p @ v[..., start : start + block_size, :]
        )
        o = o / total_new[..., None]
        m, total = m_new, total_new
    return o
