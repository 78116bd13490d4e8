"""Mistake: chosen and rejected swapped."""

# expect: case batch

import torch.nn.functional as F


def dpo_loss(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    z = beta * ((policy_rejected - ref_rejected) - (policy_chosen - ref_chosen))
    return -F.logsigmoid(z).mean()
