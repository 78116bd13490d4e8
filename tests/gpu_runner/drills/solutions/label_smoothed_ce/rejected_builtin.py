"""Rejected, though its output is right: the library loss, which smooths by epsilon / vocab."""

# expect: cross_entropy with label_smoothing

import torch.nn.functional as F


def label_smoothed_cross_entropy(logits, target, epsilon, ignore_index=-100):
    vocab = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, vocab),
        target.reshape(-1),
        ignore_index=ignore_index,
        label_smoothing=epsilon,
    )
