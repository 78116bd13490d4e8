"""Mistake: when every draft is accepted, returns the last draft position's target row."""

# expect: \(n_accepted, next_dist\)\[1\]\[\d+\] =


def speculative_verify(draft_tokens, p_draft, p_target, u):
    k = len(draft_tokens)
    for i, t in enumerate(draft_tokens.tolist()):
        if u[i] > min(1.0, float(p_target[i, t] / p_draft[i, t])):
            r = (p_target[i] - p_draft[i]).clamp(min=0)
            return i, r / r.sum()
    return k, p_target[k - 1]
