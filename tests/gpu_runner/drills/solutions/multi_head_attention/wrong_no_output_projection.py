"""Mistake: forgets the output projection w_o."""

# expect: output\[.*expected

import torch


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads, causal=False):
    b, s, dm = x.shape
    d = dm // n_heads

    def split(t):
        return t.reshape(b, s, n_heads, d).transpose(1, 2)

    q, k, v = split(x @ w_q.T), split(x @ w_k.T), split(x @ w_v.T)
    scores = q @ k.transpose(-2, -1) / d**0.5
    if causal:
        scores = scores.masked_fill(torch.ones(s, s, dtype=torch.bool).triu(1), float("-inf"))
    out = torch.softmax(scores, dim=-1) @ v
    return out.transpose(1, 2).reshape(b, s, dm)
