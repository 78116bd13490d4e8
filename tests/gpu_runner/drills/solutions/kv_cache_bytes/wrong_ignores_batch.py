"""Mistake: sizes one sequence whatever the batch."""

# expect: case gpt2_batch


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element
