"""Drill `dpo_loss`: the Direct Preference Optimization loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish

SIGNATURE = (
    "def dpo_loss(\n"
    "    policy_chosen: torch.Tensor,\n"
    "    policy_rejected: torch.Tensor,\n"
    "    ref_chosen: torch.Tensor,\n"
    "    ref_rejected: torch.Tensor,\n"
    "    beta: float,\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return the mean DPO loss over the batch as a 0-dim tensor.

Each argument has shape (batch,) and holds the summed log-probability of the
chosen or rejected completion under the policy or the frozen reference. With
z = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)),
the loss per example is -log(sigmoid(z)). z can be hundreds in magnitude either
way: the result must stay finite and accurate (log(sigmoid(-200)) is -200, not
-inf). The result has the dtype of the inputs."""


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Return mean -log(sigmoid(beta * (chosen log-ratio - rejected log-ratio)))."""
    z = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))
    return -F.logsigmoid(z).mean()


class DpoDrill(Drill):
    """DPO loss from summed log-probabilities."""

    id = "dpo_loss"
    title = "DPO loss"
    entry = "dpo_loss"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("dpo_loss", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(dpo_loss)
    reference_imports = ("import torch", "import torch.nn.functional as F")
    low_precision_dtypes = ("float16", "bfloat16")
    bank_questions = (489,)
    public_cases = (
        Case("batch", {"batch": 8, "beta": 0.1, "drift": 5.0}),
        Case("strong_beta", {"batch": 5, "beta": 0.5, "drift": 3.0}),
    )
    secret_cases = (
        Case("large_margins", {"batch": 16, "beta": 0.5, "drift": 400.0}),
        Case("one_example", {"batch": 1, "beta": 0.2, "drift": 10.0}),
        Case("odd_batch", {"batch": 37, "beta": 0.05, "drift": 20.0}),
        Case("tiny_beta", {"batch": 9, "beta": 0.01, "drift": 50.0}),
    )
    bench_cases = (
        Case("bench_batch_1M", {"batch": 1_000_000, "beta": 0.1, "drift": 5.0}),
        Case("bench_batch_64k", {"batch": 65536, "beta": 0.1, "drift": 5.0}),
    )
    # Summed log-probs reach -300, where float32 spacing is 3e-5; regrouping the four-way
    # difference moves z by a few of those times beta.
    tolerances = {
        "float64": Tolerance(1e-9, 1e-9),
        "float32": Tolerance(1e-5, 3e-5),
        "float16": Tolerance(1e-2, 1e-2),
        "bfloat16": Tolerance(5e-2, 5e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded summed log-probs: references in [-300, -20], policies drifted off them."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        n = int(p["batch"])
        drift = float(p["drift"])
        ref_chosen = -20.0 - 280.0 * torch.rand(n, generator=gen, dtype=torch.float64)
        ref_rejected = -20.0 - 280.0 * torch.rand(n, generator=gen, dtype=torch.float64)
        # A summed log-probability is negative, however far the policy drifts.
        policy_chosen = ref_chosen + drift * torch.randn(n, generator=gen, dtype=torch.float64)
        policy_chosen = policy_chosen.clamp(max=-0.5)
        policy_rejected = ref_rejected + drift * torch.randn(n, generator=gen, dtype=torch.float64)
        policy_rejected = policy_rejected.clamp(max=-0.5)
        tensors = tuple(
            finish(t, case, device)
            for t in (policy_chosen, policy_rejected, ref_chosen, ref_rejected)
        )
        return FunctionCall(tensors + (float(p["beta"]),), {})


DRILL = DpoDrill()
