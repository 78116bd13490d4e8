"""Mistake: shrinks p by weight_decay, not lr * weight_decay."""

# expect: case first_step .*\(p, m, v\)\[0\]

import torch


def adamw_step(p, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    p = p * (1 - weight_decay)
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v
