"""Mistake: divides by every position, ignored ones included."""

# expect: case with_padding

import torch


def label_smoothed_cross_entropy(logits, target, epsilon, ignore_index=-100):
    logp = torch.log_softmax(logits, dim=-1)
    mask = target != ignore_index
    labels = torch.where(mask, target, 0)
    nll = -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    per = (1 - epsilon) * nll - epsilon * logp.mean(dim=-1)
    return (per * mask).sum() / target.numel()
