"""Correct: merge the adapter into the weight first."""


def lora_linear(x, weight, lora_a, lora_b, alpha, r):
    merged = weight + (alpha / r) * (lora_b @ lora_a)
    return x @ merged.T
