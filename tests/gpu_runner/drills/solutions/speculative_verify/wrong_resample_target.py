"""Mistake: after a rejection, samples from p_target instead of the residual."""

# expect: \(n_accepted, next_dist\)\[1\]\[\d+\] =


def speculative_verify(draft_tokens, p_draft, p_target, u):
    for i, t in enumerate(draft_tokens.tolist()):
        if u[i] > min(1.0, float(p_target[i, t] / p_draft[i, t])):
            return i, p_target[i]
    return len(draft_tokens), p_target[-1]
