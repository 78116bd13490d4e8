"""Mistake: log(softmax) computed from raw exp."""

# expect: case large_logits .*(nan|inf)

import torch


def label_smoothed_cross_entropy(logits, target, epsilon, ignore_index=-100):
    e = torch.exp(logits)
    logp = torch.log(e / e.sum(dim=-1, keepdim=True))
    mask = target != ignore_index
    labels = torch.where(mask, target, 0)
    nll = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    per = (1 - epsilon) * nll - epsilon * logp.mean(dim=-1)
    return per[mask].mean()
