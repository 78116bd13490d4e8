"""Correct: searchsorted for sampling, the target pass as one gather, a flat token list."""

import torch


def _sample(p, w):
    j = int(torch.searchsorted(torch.cumsum(p, 0), torch.tensor(w, dtype=p.dtype), right=True))
    return min(j, p.shape[0] - 1)


def speculative_decode(last_token, draft_probs, target_probs, k, n_new, u):
    seq = [last_token]
    passes = 0
    while len(seq) - 1 < n_new:
        w = u[passes]
        passes += 1
        start = len(seq) - 1
        for i in range(k):
            seq.append(_sample(draft_probs[seq[-1]], float(w[i])))
        ctx = torch.tensor(seq[start:])
        pt = target_probs[ctx]  # (k + 1, vocab): one "forward pass"
        pd = draft_probs[ctx[:-1]]
        drafts = seq[start + 1 :]
        del seq[start + 1 :]
        for i, t in enumerate(drafts):
            if float(w[k + i]) * float(pd[i, t]) > float(pt[i, t]):
                res = torch.clamp(pt[i] - pd[i], min=0)
                seq.append(_sample(res / res.sum(), float(w[2 * k])))
                break
            seq.append(t)
        else:
            seq.append(_sample(pt[k], float(w[2 * k])))
    return seq[1 : n_new + 1], passes
