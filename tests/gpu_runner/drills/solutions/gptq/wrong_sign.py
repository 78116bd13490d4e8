"""Mistake: adds the compensation instead of subtracting it."""

# expect: output error .* GPTQ reaches

import torch


def gptq_quantize(w, x, scale, bits, damp=0.01):
    w = w.double().clone()
    x = x.double()
    s = scale.double()
    h = x.T @ x
    h += damp * h.diagonal().mean() * torch.eye(h.shape[0], dtype=h.dtype)
    hinv = torch.linalg.inv(h)
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    q = torch.zeros_like(w)
    for j in range(w.shape[1]):
        q[:, j] = torch.clamp(torch.round(w[:, j] / s), lo, hi) * s
        err = w[:, j] - q[:, j]
        w[:, j + 1 :] += torch.outer(err / hinv[j, j], hinv[j, j + 1 :])
        hinv = hinv - torch.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]
    return q.float()
