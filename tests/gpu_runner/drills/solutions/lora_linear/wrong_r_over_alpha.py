"""Mistake: scales by r / alpha."""

# expect: case rows


def lora_linear(x, weight, lora_a, lora_b, alpha, r):
    return x @ weight.T + (r / alpha) * (x @ lora_a.T @ lora_b.T)
