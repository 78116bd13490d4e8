"""Correct: golden-section search on log T, no gradients at all."""

import math

import torch


def fit_temperature(logits, labels):
    z = logits.double()

    def nll(log_t):
        return float(torch.nn.functional.cross_entropy(z / math.exp(log_t), labels))

    lo, hi = math.log(0.01), math.log(100.0)
    g = (math.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(50):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = nll(b)
    return math.exp((lo + hi) / 2)
