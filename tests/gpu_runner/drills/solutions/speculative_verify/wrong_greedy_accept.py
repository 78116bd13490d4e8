"""Mistake: accepts when p_target >= p_draft, ignoring the draw u."""

# expect: \(n_accepted, next_dist\)\[0\] = \d+, expected \d+


def speculative_verify(draft_tokens, p_draft, p_target, u):
    for i, t in enumerate(draft_tokens.tolist()):
        if p_target[i, t] < p_draft[i, t]:
            r = (p_target[i] - p_draft[i]).clamp(min=0)
            return i, r / r.sum()
    return len(draft_tokens), p_target[-1]
