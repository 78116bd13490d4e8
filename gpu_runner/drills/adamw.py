"""Drill `adamw_step`: one AdamW update with decoupled weight decay."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall
from gpu_runner.drills.base import Case, Drill, Tolerance, function_template, torch_generator
from gpu_runner.drills.generators import finish
from gpu_runner.library_calls import ADAMW_CALLS

SIGNATURE = (
    "def adamw_step(\n"
    "    p: torch.Tensor,\n"
    "    grad: torch.Tensor,\n"
    "    m: torch.Tensor,\n"
    "    v: torch.Tensor,\n"
    "    t: int,\n"
    "    lr: float,\n"
    "    beta1: float,\n"
    "    beta2: float,\n"
    "    eps: float,\n"
    "    weight_decay: float,\n"
    ") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]"
)
DOCSTRING = """\
Return (new_p, new_m, new_v) after one AdamW step; t counts steps from 1.

m and v are the first and second moment estimates before this step (zeros at
t = 1). Update the moments with grad, bias-correct them by 1 - beta**t, and
step p by lr * m_hat / (sqrt(v_hat) + eps). Weight decay is decoupled, as in
AdamW: p is also shrunk by lr * weight_decay * p, never by adding
weight_decay * p to the gradient (that is Adam with L2, a different optimizer).
Return new tensors of the dtype of p; do not modify the arguments."""


def adamw_step(
    p: torch.Tensor,
    grad: torch.Tensor,
    m: torch.Tensor,
    v: torch.Tensor,
    t: int,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return the parameter and moments after one AdamW step (decay applied to p first)."""
    decayed = p * (1.0 - lr * weight_decay)
    m_new = beta1 * m + (1.0 - beta1) * grad
    v_new = beta2 * v + (1.0 - beta2) * grad * grad
    m_hat = m_new / (1.0 - beta1**t)
    v_hat = v_new / (1.0 - beta2**t)
    return decayed - lr * m_hat / (torch.sqrt(v_hat) + eps), m_new, v_new


class AdamWDrill(Drill):
    """AdamW, decoupled weight decay."""

    id = "adamw_step"
    title = "AdamW optimizer step"
    entry = "adamw_step"
    library_calls = ADAMW_CALLS
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("adamw_step", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(adamw_step)
    low_precision_dtypes = ("bfloat16",)
    bank_questions = (485,)
    public_cases = (
        Case("first_step", {"shape": (7,), "t": 1, "lr": 1e-3, "weight_decay": 0.1}),
        Case("later_step", {"shape": (5, 13), "t": 10, "lr": 1e-3, "weight_decay": 0.1}),
    )
    secret_cases = (
        Case("no_decay", {"shape": (3, 4, 9), "t": 3, "lr": 1e-2, "weight_decay": 0.0}),
        Case("strong_decay", {"shape": (31,), "t": 50, "lr": 1e-3, "weight_decay": 0.5}),
        Case("late_step", {"shape": (6, 6), "t": 1000, "lr": 1e-3, "weight_decay": 0.05}),
        Case(
            "other_betas",
            {"shape": (17,), "t": 2, "lr": 2e-3, "weight_decay": 0.2, "betas": (0.8, 0.95)},
        ),
    )
    bench_cases = (
        Case("bench_4M", {"shape": (2048, 2048), "t": 10, "lr": 1e-3, "weight_decay": 0.1}),
        Case("bench_1M", {"shape": (1000, 1000), "t": 10, "lr": 1e-3, "weight_decay": 0.1}),
    )
    # Applying the decay before or after the Adam step differs by lr^2 * wd * |step|
    # (<= 1e-6 here, steps being O(1)) and both are AdamW; L2-style decay instead moves m by
    # (1 - beta1) * wd * p, thousands of times the tolerance.
    tolerances = {
        "float64": Tolerance(1e-9, 1e-9),
        "float32": Tolerance(1e-5, 1e-5),
        "float16": Tolerance(3e-3, 1e-3),
        "bfloat16": Tolerance(2e-2, 1e-2),
    }

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded parameters, a gradient, moments consistent with step t, and scalars."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        shape = tuple(p["shape"])
        t = int(p["t"])
        beta1, beta2 = p.get("betas", (0.9, 0.999))
        param = torch.randn(shape, generator=gen, dtype=torch.float64)
        grad = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.05
        if t == 1:
            m = torch.zeros(shape, dtype=torch.float64)
            v = torch.zeros(shape, dtype=torch.float64)
        else:
            # Moments as a run of gradients of this scale would leave them: v is the decayed
            # mean square, so sqrt(v_hat) is comparable to |m_hat| and steps stay O(1).
            m = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.02
            spread = torch.rand(shape, generator=gen, dtype=torch.float64) + 0.5
            v = (0.05 * spread) ** 2 * (1.0 - beta2 ** (t - 1))
        tensors = tuple(finish(x, case, device) for x in (param, grad, m, v))
        scalars = (t, float(p["lr"]), float(beta1), float(beta2), 1e-8, float(p["weight_decay"]))
        return FunctionCall(tensors + scalars, {})

    def output_name(self) -> str:
        """Name the returned tuple (p, m, v) in messages."""
        return "(p, m, v)"


DRILL = AdamWDrill()
