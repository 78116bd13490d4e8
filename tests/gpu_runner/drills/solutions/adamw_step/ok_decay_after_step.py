"""Correct: decoupled decay applied after the Adam step."""


def adamw_step(p, grad, m, v, t, lr, beta1, beta2, eps, weight_decay):
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad.square()
    step = (m / (1 - beta1**t)) / ((v / (1 - beta2**t)).sqrt() + eps)
    p = (p - lr * step) * (1 - lr * weight_decay)
    return p, m, v
