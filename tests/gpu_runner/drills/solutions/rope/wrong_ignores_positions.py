"""Mistake: uses 0..seq-1 instead of the given positions."""

# expect: case decode_offset

import torch


def apply_rope(x, positions, base=10000.0):
    d = x.shape[-1]
    seq = x.shape[-2]
    inv_freq = base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    angles = torch.arange(seq, dtype=x.dtype)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos(), angles.sin()
    out = torch.empty_like(x)
    out[..., 0::2] = x[..., 0::2] * cos - x[..., 1::2] * sin
    out[..., 1::2] = x[..., 0::2] * sin + x[..., 1::2] * cos
    return out
