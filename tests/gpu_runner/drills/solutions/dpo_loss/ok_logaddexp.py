"""Correct: -log(sigmoid(z)) = log(1 + exp(-z)) via logaddexp."""

import torch


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    chosen = policy_chosen - ref_chosen
    rejected = policy_rejected - ref_rejected
    z = beta * (chosen - rejected)
    return torch.logaddexp(torch.zeros_like(z), -z).mean()
