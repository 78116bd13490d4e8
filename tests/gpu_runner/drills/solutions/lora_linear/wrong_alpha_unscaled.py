"""Mistake: scales the adapter by alpha instead of alpha / r."""

# expect: case rows .*tolerance


def lora_linear(x, weight, lora_a, lora_b, alpha, r):
    return x @ weight.T + alpha * (x @ lora_a.T @ lora_b.T)
