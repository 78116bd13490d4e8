"""Mistake: adds weight_decay * p to the gradient (Adam with L2)."""

# expect: case first_step .*\(p, m, v\)\[

import torch


def adamw_step(p, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    grad = grad + weight_decay * p
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad * grad
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return p - lr * m_hat / (torch.sqrt(v_hat) + eps), m, v
