"""Correct: L-BFGS on log T in float32 with torch's cross-entropy, as the usual recipe does."""

import torch
import torch.nn.functional as F


def fit_temperature(logits, labels):
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return float(log_t.detach().exp())
