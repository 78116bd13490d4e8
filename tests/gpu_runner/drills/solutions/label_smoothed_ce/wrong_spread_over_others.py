"""Mistake: epsilon / (vocab - 1) on the other tokens only."""

# expect: case rows .*tolerance

import torch


def label_smoothed_cross_entropy(logits, target, epsilon, ignore_index=-100):
    vocab = logits.shape[-1]
    logp = torch.log_softmax(logits, dim=-1)
    mask = target != ignore_index
    labels = torch.where(mask, target, 0)
    q = torch.full_like(logp, epsilon / (vocab - 1))
    q.scatter_(-1, labels.unsqueeze(-1), 1 - epsilon)
    per = -(q * logp).sum(dim=-1)
    return per[mask].mean()
