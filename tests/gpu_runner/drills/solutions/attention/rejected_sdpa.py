"""Rejected, though its output is right: PyTorch's fused attention."""

# expect: scaled_dot_product_attention

import torch.nn.functional as F


def attention(q, k, v, causal=False):
    return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
