"""Correct: math.prod of the factors."""

import math


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):
    return math.prod((2, n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element, batch))
