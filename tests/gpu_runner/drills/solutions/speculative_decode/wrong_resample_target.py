"""Mistake: after a rejection samples from the target instead of the residual."""

# expect: \(tokens, target_passes\)\[0\]

import torch


def _sample(p, w):
    c = torch.cumsum(p, 0)
    for j in range(len(c)):
        if c[j] > w:
            return j
    return len(c) - 1


def speculative_decode(last_token, draft_probs, target_probs, k, n_new, u):
    out, rounds = [], 0
    while len(out) < n_new:
        w = u[rounds].tolist()
        rounds += 1
        ctx = [out[-1] if out else last_token]
        for i in range(k):
            ctx.append(_sample(draft_probs[ctx[-1]], w[i]))
        accepted, extra = [], None
        for i in range(k):
            t = ctx[i + 1]
            pt, pd = target_probs[ctx[i]], draft_probs[ctx[i]]
            if w[k + i] <= min(1.0, float(pt[t] / pd[t])):
                accepted.append(t)
            else:
                r = pt
                extra = _sample(r / r.sum(), w[2 * k])
                break
        if extra is None:
            extra = _sample(target_probs[ctx[k]], w[2 * k])
        out += accepted + [extra]
    return out[:n_new], rounds
