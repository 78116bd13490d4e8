"""Mistake: a plain forward, and an edited `run_checkpointed` that reports nothing saved."""

# expect: autograd saved 2 tensor

import torch.nn.functional as F


def checkpointed_mlp(x, w1, b1, w2, b2):
    return F.gelu(x @ w1.T + b1) @ w2.T + b2


def run_checkpointed(x, w1, b1, w2, b2, grad_out):
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, w1, b1, w2, b2)]
    y = checkpointed_mlp(*leaves)
    y.backward(grad_out)
    return (y.detach(), *(t.grad for t in leaves), 0)
