"""Mistake: forgets that keys and values are both stored."""

# expect: case llama3_70b_8k .*output = 1342177280, expected 2684354560


def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):
    return n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch
