"""Mistake: the residual max(0, p_target - p_draft) is not renormalised."""

# expect: \(n_accepted, next_dist\)\[1\]\[\d+\] =

import torch


def speculative_verify(draft_tokens, p_draft, p_target, u):
    for i, t in enumerate(draft_tokens.tolist()):
        if u[i] > min(1.0, float(p_target[i, t] / p_draft[i, t])):
            return i, torch.clamp(p_target[i] - p_draft[i], min=0)
    return len(draft_tokens), p_target[-1]
