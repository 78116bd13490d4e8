"""Mistake: multiplies the logits by T, so it returns 1 / (the right temperature)."""

# expect: T = .* gives NLL .* but T = .* reaches

import torch


def fit_temperature(logits, labels):
    t = torch.ones((), requires_grad=True)
    opt = torch.optim.LBFGS([t], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits * t, labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(t.detach())
