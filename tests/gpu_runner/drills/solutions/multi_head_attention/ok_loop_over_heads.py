"""Correct: a loop over heads slicing the weight rows, einsum, torch.softmax, cat at the end."""

import torch


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads, causal=False):
    d = x.shape[-1] // n_heads
    outs = []
    for h in range(n_heads):
        rows = slice(h * d, (h + 1) * d)
        q = torch.einsum("bsc,dc->bsd", x, w_q[rows])
        k = torch.einsum("bsc,dc->bsd", x, w_k[rows])
        v = torch.einsum("bsc,dc->bsd", x, w_v[rows])
        s = torch.einsum("bqd,bkd->bqk", q, k) * d**-0.5
        if causal:
            n = s.shape[-1]
            s = s + torch.full((n, n), float("-inf"), dtype=s.dtype).triu(1)
        outs.append(torch.softmax(s, dim=-1) @ v)
    return torch.nn.functional.linear(torch.cat(outs, dim=-1), w_o)
