"""Correct: float32 throughout, the inverse Hessian downdated explicitly after each column."""

import torch


def gptq_quantize(w, x, scale, bits, damp=0.01):
    w = w.clone()
    h = x.T @ x
    h += damp * h.diagonal().mean() * torch.eye(h.shape[0])
    hinv = torch.linalg.inv(h)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    out = torch.empty_like(w)
    for j in range(w.shape[1]):
        out[:, j] = (w[:, j] / scale).round().clamp(lo, hi) * scale
        err = w[:, j] - out[:, j]
        w[:, j + 1 :] -= torch.outer(err / hinv[j, j], hinv[j, j + 1 :])
        hinv = hinv - torch.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]
    return out
