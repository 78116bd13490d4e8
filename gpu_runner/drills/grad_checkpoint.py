"""Drill `grad_checkpoint`: gradient checkpointing of a two-layer MLP."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import (
    Case,
    Drill,
    Tolerance,
    compare_values,
    standalone_source,
    torch_generator,
)
from gpu_runner.drills.generators import finish

SIGNATURE = (
    "def checkpointed_mlp(\n"
    "    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor\n"
    ") -> torch.Tensor"
)
DOCSTRING = """\
Return y = gelu(x @ w1.T + b1) @ w2.T + b2 (exact gelu), with gradient
checkpointing: keep only the MLP's input for backward, not its (batch, hidden)
activations, and recompute them in the backward pass.

torch.utils.checkpoint.checkpoint(fn, ...) does it (either use_reentrant mode),
and so does a torch.autograd.Function that saves x and the weights and reruns
the forward under torch.enable_grad() in its backward. Gradients must reach x,
w1, b1, w2 and b2.

The file also holds `run_checkpointed`, which the judge calls: it runs your MLP
forward while watching what autograd saves for backward, then runs backward.
The judge runs its own copy of it: you may leave it out; changes do not count.
Judged on y and the five gradients (float64 reference), and
on no (batch, hidden) tensor being saved for backward."""

TEMPLATE_HEAD = '''\
"""Drill grad_checkpoint: write `checkpointed_mlp`; the judge calls `run_checkpointed`."""

import torch
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint


def checkpointed_mlp(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> torch.Tensor:
    """gelu(x @ w1.T + b1) @ w2.T + b2, keeping only the input for backward."""
    raise NotImplementedError("checkpointed_mlp is not implemented yet")


'''


def _mlp(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> torch.Tensor:
    return F.gelu(F.linear(x, w1, b1)) @ w2.T + b2


def checkpointed_mlp(
    x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor, b2: torch.Tensor
) -> torch.Tensor:
    """Non-reentrant torch.utils.checkpoint around the whole MLP."""
    from torch.utils.checkpoint import checkpoint

    return checkpoint(_mlp, x, w1, b1, w2, b2, use_reentrant=False)  # type: ignore[no-any-return]


def run_checkpointed(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    grad_out: torch.Tensor,
) -> tuple[torch.Tensor | int | None, ...]:
    """Provided (leave as it is): forward under a saved-tensor watch, then backward.

    Returns y, the gradients of x, w1, b1, w2, b2, and how many (batch, hidden) tensors
    autograd saved for backward during the forward.
    """
    leaves = [t.detach().clone().requires_grad_(True) for t in (x, w1, b1, w2, b2)]
    activation_shape = (x.shape[0], w1.shape[0])
    saved: list[tuple[int, ...]] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved.append(tuple(t.shape))
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = checkpointed_mlp(*leaves)
    y.backward(grad_out)
    held = sum(1 for shape in saved if shape == activation_shape)
    return (y.detach(), *(t.grad for t in leaves), held)


TEMPLATE = TEMPLATE_HEAD + standalone_source(run_checkpointed, imports=())
TOL = Tolerance(3e-4, 3e-5)


class GradCheckpointDrill(Drill):
    """Gradient checkpointing judged on values, gradients and what autograd keeps."""

    id = "grad_checkpoint"
    title = "Gradient checkpointing for a two-layer MLP"
    entry = "run_checkpointed"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    reference_impl = staticmethod(run_checkpointed)
    reference_helpers = (_mlp, checkpointed_mlp)
    provided = (run_checkpointed,)
    provided_imports = ("import torch",)
    reference_imports = ("import torch", "import torch.nn.functional as F")
    tolerances = {"float32": TOL, "float64": Tolerance(1e-9, 1e-12)}
    bank_questions = (490,)
    public_cases = (
        Case("small", {"batch": 4, "d_in": 3, "hidden": 16, "d_out": 2}),
        Case("wider", {"batch": 8, "d_in": 10, "hidden": 48, "d_out": 5}),
    )
    secret_cases = (
        Case("one_row", {"batch": 1, "d_in": 6, "hidden": 32, "d_out": 4}),
        Case("big_hidden", {"batch": 16, "d_in": 12, "hidden": 200, "d_out": 7}),
        Case("shifted", {"batch": 9, "d_in": 5, "hidden": 24, "d_out": 3, "offset": 2.0}),
    )
    bench_cases = (
        Case("bench_128x2048", {"batch": 128, "d_in": 256, "hidden": 2048, "d_out": 256}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x, weights, biases and the gradient flowing into y."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        b, d_in, hid, d_out = (int(p[k]) for k in ("batch", "d_in", "hidden", "d_out"))

        def rnd(*shape: int, scale: float = 1.0, mean: float = 0.0) -> torch.Tensor:
            t = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale + mean
            return finish(t, case, device)

        args = (
            rnd(b, d_in, mean=float(p.get("offset", 0.0))),
            rnd(hid, d_in, scale=1 / math.sqrt(d_in)),
            rnd(hid, scale=0.5),
            rnd(d_out, hid, scale=1 / math.sqrt(hid)),
            rnd(d_out, scale=0.5),
            rnd(b, d_out),
        )
        return FunctionCall(args, {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Values and gradients within tolerance; no activation kept for backward."""
        if not isinstance(got, tuple | list) or len(got) != 7:
            return "run_checkpointed should return 7 values: leave it as it is"
        assert isinstance(expected, tuple)
        names = ("y", "x.grad", "w1.grad", "b1.grad", "w2.grad", "b2.grad")
        for name, g, e in zip(names, got[:6], expected[:6], strict=True):
            if g is None:
                return f"{name} is None: the gradient does not reach it"
            problem = compare_values(g, e, TOL, name)
            if problem is not None:
                return problem
        if got[6] != 0:
            return (
                f"autograd saved {got[6]} tensor(s) of the activations' shape (batch, hidden) "
                "during the forward: checkpointing keeps only the input and recomputes them "
                "in backward"
            )
        return None


DRILL = GradCheckpointDrill()
