"""Correct: -log(sigmoid(z)) = softplus(-z)."""

import torch.nn.functional as F


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    z = beta * (policy_chosen - policy_rejected - (ref_chosen - ref_rejected))
    return F.softplus(-z).mean()
