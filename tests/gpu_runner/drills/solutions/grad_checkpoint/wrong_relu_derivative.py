"""Mistake: a custom backward that treats the gelu's derivative as a relu's."""

# expect: x\.grad\[.*expected

import torch
import torch.nn.functional as F


class _Checkpointed(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w1, b1, w2, b2):
        ctx.save_for_backward(x, w1, b1, w2, b2)
        return F.gelu(x @ w1.T + b1) @ w2.T + b2

    @staticmethod
    def backward(ctx, gy):
        x, w1, b1, w2, b2 = ctx.saved_tensors
        pre = x @ w1.T + b1
        h = F.gelu(pre)
        gh = (gy @ w2) * (pre > 0)
        return gh @ w1, gh.T @ x, gh.sum(0), gy.T @ h, gy.sum(0)


def checkpointed_mlp(x, w1, b1, w2, b2):
    return _Checkpointed.apply(x, w1, b1, w2, b2)
