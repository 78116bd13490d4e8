"""Correct: torch.optim-style in-place ops on clones."""

import math


def adamw_step(p, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    p, m, v = p.clone(), m.clone(), v.clone()
    p.mul_(1 - lr * weight_decay)
    m.mul_(beta1).add_(grad, alpha=1 - beta1)
    v.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias1 = 1 - beta1**t
    bias2 = 1 - beta2**t
    denom = (v.sqrt() / math.sqrt(bias2)).add_(eps)
    p.addcdiv_(m, denom, value=-lr / bias1)
    return p, m, v
