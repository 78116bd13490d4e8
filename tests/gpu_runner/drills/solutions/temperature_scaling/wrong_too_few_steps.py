"""Mistake: 50 small Adam steps from T = 1: nowhere near converged."""

# expect: gives NLL

import torch


def fit_temperature(logits, labels):
    t = torch.ones((), requires_grad=True)
    opt = torch.optim.Adam([t], lr=0.01)
    for _ in range(50):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(logits / t, labels).backward()
        opt.step()
    return float(t.detach())
