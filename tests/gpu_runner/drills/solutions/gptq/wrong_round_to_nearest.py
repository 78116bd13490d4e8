"""Mistake: plain round-to-nearest: the error is never compensated."""

# expect: output error .* GPTQ reaches

import torch


def gptq_quantize(w, x, scale, bits, damp=0.01):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return torch.clamp(torch.round(w / scale[:, None]), lo, hi) * scale[:, None]
