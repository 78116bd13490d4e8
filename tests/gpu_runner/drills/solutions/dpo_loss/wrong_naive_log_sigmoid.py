"""Mistake: log(sigmoid(z)) underflows to -inf for very negative z."""

# expect: case large_margins .*inf

import torch


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    z = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -torch.log(torch.sigmoid(z)).mean()
