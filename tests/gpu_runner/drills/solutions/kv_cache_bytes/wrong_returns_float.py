"""Mistake: returns a float (e.g. after converting units)."""

# expect: should be an int, got float


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):
    return 2.0 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch
