"""Mistake: normalises the attention weights over the queries (axis 0) instead of the keys."""

# expect: output\[.*expected

import numpy as np
import torch


def transformer_layer(x, params, n_heads):
    p = {k: v.numpy() for k, v in params.items()}
    a = x.numpy()
    seq, d = a.shape
    hd = d // n_heads

    def ln(z, g, b):
        mu = z.mean(-1, keepdims=True)
        sd = z.std(-1, keepdims=True)
        return (z - mu) / (sd + 1e-5) * g + b

    def gelu(z):
        return 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))

    def attn(z):
        out = np.zeros_like(z)
        mask = np.tril(np.ones((seq, seq)))
        for h in range(n_heads):
            c = slice(h * hd, (h + 1) * hd)
            q, k, v = z @ p["w_q"][:, c], z @ p["w_k"][:, c], z @ p["w_v"][:, c]
            s = q @ k.T / np.sqrt(hd)
            s = np.where(mask == 1, s, -1e30)
            e = np.exp(s - s.max(axis=0, keepdims=True))
            out[:, c] = (e / e.sum(axis=0, keepdims=True)) @ v
        return out @ p["w_o"]

    h = a + attn(ln(a, p["ln1_g"], p["ln1_b"]))
    f = gelu(ln(h, p["ln2_g"], p["ln2_b"]) @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    return torch.from_numpy(h + f)
