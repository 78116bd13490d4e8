"""Mistake: accepts with probability p_draft / p_target."""

# expect: \(n_accepted, next_dist\)\[0\] = \d+, expected \d+


def speculative_verify(draft_tokens, p_draft, p_target, u):
    for i, t in enumerate(draft_tokens.tolist()):
        if u[i] > min(1.0, float(p_draft[i, t] / p_target[i, t])):
            r = (p_target[i] - p_draft[i]).clamp(min=0)
            return i, r / r.sum()
    return len(draft_tokens), p_target[-1]
