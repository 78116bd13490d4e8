"""Correct: one fused QKV matmul, view/permute, masked_fill on a tril mask."""

import torch


def multi_head_attention(x, w_q, w_k, w_v, w_o, n_heads, causal=False):
    b, s, dm = x.shape
    qkv = x @ torch.cat([w_q, w_k, w_v]).T
    qkv = qkv.view(b, s, 3, n_heads, dm // n_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    att = q @ k.transpose(-1, -2) / (dm // n_heads) ** 0.5
    if causal:
        keep = torch.tril(torch.ones(s, s, dtype=torch.bool))
        att = att.masked_fill(~keep, float("-inf"))
    att = att.softmax(-1)
    return (att @ v).permute(0, 2, 1, 3).reshape(b, s, dm) @ w_o.T
