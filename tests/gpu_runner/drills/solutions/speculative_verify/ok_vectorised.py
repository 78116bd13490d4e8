"""Correct: all acceptance tests at once, the first rejection found by cumprod."""

import torch


def speculative_verify(draft_tokens, p_draft, p_target, u):
    k = draft_tokens.shape[0]
    idx = torch.arange(k)
    ratio = p_target[idx, draft_tokens] / p_draft[idx, draft_tokens]
    accepted = (u <= torch.clamp(ratio, max=1.0)).to(torch.int64)
    n = int(torch.cumprod(accepted, 0).sum())
    if n == k:
        return n, p_target[k]
    residual = torch.where(p_target[n] > p_draft[n], p_target[n] - p_draft[n], 0.0)
    return n, residual / residual.sum()
