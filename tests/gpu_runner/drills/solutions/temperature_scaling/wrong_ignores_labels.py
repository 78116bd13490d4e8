"""Mistake: minimises the predictions' entropy (labels unused), which drives T towards 0."""

# expect: gives NLL

import torch


def fit_temperature(logits, labels):
    log_t = torch.zeros((), requires_grad=True)
    opt = torch.optim.Adam([log_t], lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        p = torch.softmax(logits / log_t.exp(), -1)
        (-(p * torch.log(p + 1e-12)).sum(-1).mean()).backward()
        opt.step()
    return float(log_t.detach().exp())
