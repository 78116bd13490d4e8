"""Mistake: skips the bias correction."""

# expect: case first_step .*\(p, m, v\)\[0\]

import torch


def adamw_step(p, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    p = p * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    return p - lr * m / (torch.sqrt(v) + eps), m, v
