"""Mistake: returns the frozen projection only."""

# expect: case rows


def lora_linear(x, weight, lora_a, lora_b, alpha, r):
    return x @ weight.T
