"""Correct: compute both halves of each pair and interleave them back."""

import math

import torch


def apply_rope(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    d = x.shape[-1]
    i = torch.arange(d // 2, dtype=x.dtype)
    freq = torch.exp(-(2.0 * i / d) * math.log(base))
    angle = positions.to(x.dtype).unsqueeze(-1) * freq
    c, s = angle.cos(), angle.sin()
    x0, x1 = x[..., ::2], x[..., 1::2]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)
