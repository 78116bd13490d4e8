"""Drill `tensor_parallel_mlp`: a column-parallel then row-parallel MLP, simulated on one device."""

from __future__ import annotations

import math

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import (
    Case,
    Drill,
    Tolerance,
    compare_tensors,
    function_template,
    torch_generator,
)
from gpu_runner.drills.generators import finish

SIGNATURE = (
    "def tensor_parallel_mlp(\n"
    "    x: torch.Tensor,\n"
    "    w1: torch.Tensor,\n"
    "    b1: torch.Tensor,\n"
    "    w2: torch.Tensor,\n"
    "    b2: torch.Tensor,\n"
    "    world_size: int,\n"
    ") -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]"
)
DOCSTRING = """\
Run y = gelu(x @ w1.T + b1) @ w2.T + b2 split Megatron-style over `world_size`
ranks (simulated: loop over the ranks); return (y, local_hidden, partials).

x: (batch, d_in); w1: (hidden, d_in), b1: (hidden,); w2: (d_out, hidden),
b2: (d_out,), in nn.Linear's layout; hidden is a multiple of world_size; gelu is
the exact x * Phi(x).

Layer 1 is column-parallel: each rank holds a shard of w1's output features (and
of b1) and computes its slice of the hidden activations, gelu included, with no
communication; local_hidden[r] is rank r's (batch, hidden // world_size) slice.
Layer 2 is row-parallel: each rank holds the matching shard of w2's input
features and computes partials[r] = local_hidden[r] @ (its w2 shard).T, a
(batch, d_out) partial sum; an all-reduce (sum) of the partials plus b2, added
once, gives y.

Judged: y against a float64 reference; each local_hidden[r] must be the hidden
activations of one shard of features (contiguous shards are usual, but any
partition into equal shards is accepted if both layers use it), and partials[r]
the product of that shard."""


def tensor_parallel_mlp(
    x: torch.Tensor,
    w1: torch.Tensor,
    b1: torch.Tensor,
    w2: torch.Tensor,
    b2: torch.Tensor,
    world_size: int,
) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Contiguous shards: rank r owns hidden features r*s..(r+1)*s-1."""
    shard = w1.shape[0] // world_size
    local_hidden, partials = [], []
    for r in range(world_size):
        rows = slice(r * shard, (r + 1) * shard)
        pre = x @ w1[rows].T + b1[rows]
        h = 0.5 * pre * (1 + torch.erf(pre / math.sqrt(2.0)))
        local_hidden.append(h)
        partials.append(h @ w2[:, rows].T)
    y = torch.stack(partials).sum(0) + b2
    return y, local_hidden, partials


TOL = Tolerance(2e-4, 2e-5)


class TensorParallelDrill(Drill):
    """Tensor-parallel MLP judged on its output and on what each rank computes."""

    id = "tensor_parallel_mlp"
    title = "Tensor parallelism: column- then row-parallel linear layers"
    entry = "tensor_parallel_mlp"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("tensor_parallel_mlp", SIGNATURE, DOCSTRING)
    reference_impl = staticmethod(tensor_parallel_mlp)
    tolerances = {"float32": TOL, "float64": Tolerance(1e-9, 1e-12)}
    bank_questions = (499,)
    public_cases = (
        Case("two_ranks", {"batch": 3, "d_in": 4, "hidden": 8, "d_out": 5, "ranks": 2}),
        Case("four_ranks", {"batch": 2, "d_in": 6, "hidden": 12, "d_out": 3, "ranks": 4}),
    )
    secret_cases = (
        Case("one_rank", {"batch": 4, "d_in": 5, "hidden": 6, "d_out": 7, "ranks": 1}),
        Case("eight_ranks", {"batch": 5, "d_in": 16, "hidden": 64, "d_out": 16, "ranks": 8}),
        Case("wide", {"batch": 7, "d_in": 24, "hidden": 96, "d_out": 20, "ranks": 3}),
        Case("one_feature_each", {"batch": 2, "d_in": 3, "hidden": 4, "d_out": 2, "ranks": 4}),
    )
    bench_cases = (
        Case("bench_32x512", {"batch": 32, "d_in": 512, "hidden": 2048, "d_out": 512, "ranks": 4}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return seeded x, weights scaled like a trained layer's, and biases."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        b, d_in, hid, d_out = (int(p[k]) for k in ("batch", "d_in", "hidden", "d_out"))

        def rnd(*shape: int, scale: float = 1.0) -> torch.Tensor:
            t = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
            return finish(t, case, device)

        args = (
            rnd(b, d_in),
            rnd(hid, d_in, scale=1 / math.sqrt(d_in)),
            rnd(hid, scale=0.5),
            rnd(d_out, hid, scale=1 / math.sqrt(hid)),
            rnd(d_out, scale=0.5),
            int(p["ranks"]),
        )
        return FunctionCall(args, {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Check y, then that the ranks' slices partition the hidden features consistently."""
        if not isinstance(got, tuple | list) or len(got) != 3:
            return "output should be a tuple (y, local_hidden, partials)"
        assert isinstance(expected, tuple) and isinstance(inputs, FunctionCall)
        y, local_hidden, partials = got
        e_y = expected[0]
        problem = compare_tensors(y, e_y, TOL, "y")
        if problem is not None:
            return problem
        ranks = int(inputs.args[5])
        for name, value in (("local_hidden", local_hidden), ("partials", partials)):
            if not isinstance(value, list | tuple) or len(value) != ranks:
                return f"{name} should be a list of {ranks} tensors, one per rank"
        x, w1, b1, w2 = (t.cpu().to(torch.float64) for t in inputs.args[:4])
        pre = x @ w1.T + b1
        full_h = 0.5 * pre * (1 + torch.erf(pre / math.sqrt(2.0)))
        shard = full_h.shape[1] // ranks
        owner: dict[int, int] = {}
        for r in range(ranks):
            h_r = local_hidden[r]
            if not isinstance(h_r, torch.Tensor) or tuple(h_r.shape) != (x.shape[0], shard):
                return (
                    f"local_hidden[{r}] should be a tensor of shape {(x.shape[0], shard)} "
                    "(this rank's slice of the hidden activations)"
                )
            columns = self._match_columns(h_r, full_h, list(range(r * shard, (r + 1) * shard)))
            if columns is None:
                return (
                    f"local_hidden[{r}] is not a slice of the hidden activations "
                    "gelu(x @ w1.T + b1): does the rank use its own rows of w1 and b1?"
                )
            for c in columns:
                if c in owner:
                    return f"hidden feature {c} is computed by rank {owner[c]} and rank {r}"
                owner[c] = r
            e_part = (full_h[:, columns] @ w2[:, columns].T).to(e_y.dtype)
            problem = compare_tensors(partials[r], e_part, TOL, f"partials[{r}]")
            if problem is not None:
                return problem + (
                    " (a rank's partial is its hidden slice times the matching columns of w2, "
                    "without b2)"
                )
        return None

    @staticmethod
    def _match_columns(
        h_r: torch.Tensor, full_h: torch.Tensor, usual: list[int]
    ) -> list[int] | None:
        """Return which hidden features `h_r` holds, trying the contiguous shard first."""
        got = h_r.detach().cpu().to(torch.float64)
        scale = 1 + full_h.abs().amax(dim=0)
        if bool(((full_h[:, usual] - got).abs() <= 1e-3 * scale[usual]).all()):
            return usual
        columns = []
        for j in range(got.shape[1]):
            err = (full_h - got[:, j : j + 1]).abs().amax(dim=0)
            best = int(err.argmin())
            if float(err[best]) > 1e-3 * (1 + float(full_h[:, best].abs().max())):
                return None
            columns.append(best)
        return columns


DRILL = TensorParallelDrill()
