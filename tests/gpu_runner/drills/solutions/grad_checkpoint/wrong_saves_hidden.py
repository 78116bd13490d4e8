"""Mistake: a custom Function that saves the hidden activations it meant to recompute."""

# expect: autograd saved 1 tensor

import torch
import torch.nn.functional as F


class _Checkpointed(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        h = F.gelu(x @ w1.T + b1)
        ctx.save_for_backward(x, w1, b1, w2, b2, h)
        return h @ w2.T + b2

    @staticmethod
    def backward(ctx, grad_y):
        inputs = [t.detach().requires_grad_(True) for t in ctx.saved_tensors[:5]]
        with torch.enable_grad():
            x, w1, b1, w2, b2 = inputs
            y = F.gelu(x @ w1.T + b1) @ w2.T + b2
        return torch.autograd.grad(y, inputs, grad_y)


def checkpointed_mlp(x, w1, b1, w2, b2):
    return _Checkpointed.apply(x, w1, b1, w2, b2)
