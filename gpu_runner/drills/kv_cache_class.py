"""Drill `kv_cache`: a preallocated KV cache class with update and get."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import (
    EXACT,
    Case,
    Drill,
    check_trace_shape,
    compare_values,
    compare_void_result,
    raised,
    torch_generator,
)

SIGNATURE = """\
class KVCache:
    def __init__(
        self, n_layers: int, n_heads: int, max_seq: int, head_dim: int
    ) -> None: ...
    def update(
        self, layer: int, step: int, new_k: torch.Tensor, new_v: torch.Tensor
    ) -> None: ...
    def get(self, layer: int, end_step: int) -> tuple[torch.Tensor, torch.Tensor]: ..."""

DOCSTRING = """\
A KV cache for autoregressive decoding, preallocated for `max_seq` steps.

Keep keys and values of shape (n_layers, n_heads, max_seq, head_dim) in float32,
allocated once at construction. `update(layer, step, new_k, new_v)` writes one
token's key and value, each of shape (n_heads, head_dim), at position `step` of
that layer; writing a step again overwrites it (a decoder that rolls back after
a rejected speculative token rewrites earlier steps). `get(layer, end_step)`
returns (keys, values) of that layer for steps 0..end_step-1, each of shape
(n_heads, end_step, head_dim).

Judged on a seeded trace of updates and gets; every get must return exactly the
values written last at those positions of that layer (copies of the inputs, so
the comparison is exact). Return copies (clone), not views of the buffers: the
judge keeps every result, and a view would keep its whole buffer alive."""

TEMPLATE = '''\
"""Drill kv_cache: write the `KVCache` class below; the judge replays a trace on it."""

import torch


class KVCache:
    """Keys and values of shape (n_layers, n_heads, max_seq, head_dim), float32, preallocated."""

    def __init__(self, n_layers: int, n_heads: int, max_seq: int, head_dim: int) -> None:
        raise NotImplementedError("KVCache is not implemented yet")

    def update(self, layer: int, step: int, new_k: torch.Tensor, new_v: torch.Tensor) -> None:
        """Write one token's key and value, each (n_heads, head_dim), at `step` of `layer`."""
        raise NotImplementedError

    def get(self, layer: int, end_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (keys, values) of `layer` for steps 0..end_step-1, each (n_heads, end_step, d)."""
        raise NotImplementedError
'''


class KVCache:
    """Two preallocated tensors indexed by layer, head, step and channel."""

    def __init__(self, n_layers: int, n_heads: int, max_seq: int, head_dim: int) -> None:
        shape = (n_layers, n_heads, max_seq, head_dim)
        self.keys = torch.zeros(shape, dtype=torch.float32)
        self.values = torch.zeros(shape, dtype=torch.float32)

    def update(self, layer: int, step: int, new_k: torch.Tensor, new_v: torch.Tensor) -> None:
        """Write one token's key and value at `step` of `layer`."""
        self.keys[layer, :, step, :] = new_k
        self.values[layer, :, step, :] = new_v

    def get(self, layer: int, end_step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return copies of the first `end_step` steps of `layer`."""
        return self.keys[layer, :, :end_step].clone(), self.values[layer, :, :end_step].clone()


class KVCacheDrill(Drill):
    """KV cache judged on a trace of token writes, rewrites after rollbacks, and reads."""

    id = "kv_cache"
    title = "KV cache class"
    entry = "KVCache"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    upcast_reference = False
    void_methods = frozenset({"update"})
    reference_impl = KVCache
    reference_imports = ("import torch",)
    bank_questions = (491,)
    public_cases = (
        Case("one_layer", {"layers": 1, "heads": 2, "max_seq": 8, "dim": 4, "tokens": 6}),
        Case("two_layers", {"layers": 2, "heads": 3, "max_seq": 10, "dim": 5, "tokens": 9}),
    )
    secret_cases = (
        Case(
            "rollbacks",
            {"layers": 3, "heads": 2, "max_seq": 24, "dim": 6, "tokens": 20, "back": 0.3},
        ),
        Case("full_length", {"layers": 2, "heads": 4, "max_seq": 16, "dim": 8, "tokens": 16}),
        Case(
            "many_layers",
            {"layers": 6, "heads": 1, "max_seq": 12, "dim": 3, "tokens": 12, "back": 0.2},
        ),
    )
    bench_cases = (
        Case(
            "bench_4_layers_64_steps",
            {"layers": 4, "heads": 4, "max_seq": 64, "dim": 32, "tokens": 64},
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a decode trace: each token is written to every layer (in a shuffled layer
        order), then some layers are read; now and then the decoder rolls back a few steps."""
        p = case.params
        gen = torch_generator(self.id, case, seed)
        layers, heads, max_seq, dim = (int(p[k]) for k in ("layers", "heads", "max_seq", "dim"))
        back = float(p.get("back", 0.0))
        ops: list[tuple[str, tuple[object, ...]]] = []
        step, written = 0, 0
        while written < int(p["tokens"]) and step < max_seq:
            for layer in torch.randperm(layers, generator=gen).tolist():
                k = torch.randn(heads, dim, generator=gen)
                v = torch.randn(heads, dim, generator=gen)
                ops.append(("update", (layer, step, k, v)))
            step += 1
            written += 1
            for layer in torch.randperm(layers, generator=gen)[: max(1, layers // 2)].tolist():
                ops.append(("get", (layer, step)))
            if back and step > 2 and float(torch.rand((), generator=gen)) < back:
                step -= int(torch.randint(1, 3, (), generator=gen))
        return Trace((layers, heads, max_seq, dim), {}, ops)

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Name the first op that differs, showing where the tensors differ (not whole tensors)."""
        shape = check_trace_shape(got, expected)
        if shape is not None:
            return shape
        assert isinstance(got, list | tuple) and isinstance(expected, list)
        trace = inputs if isinstance(inputs, Trace) else None
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            name = trace.ops[i][0] if trace is not None else "get"
            if name == "update" or raised(g) or raised(e):
                problem = compare_void_result(g, e)
            else:
                problem = compare_values(g, e, EXACT, "(keys, values)")
            if problem is not None:
                return f"{_describe(trace, i)}: {problem}"
        return None


def _describe(trace: Trace | None, i: int) -> str:
    """Name op `i` without printing its tensors: `op 7 get(1, 3) (after update(1, 2, k, v))`."""
    if trace is None:
        return f"op {i}"

    def short(j: int) -> str:
        name, args = trace.ops[j]
        shown = [
            repr(a) if not isinstance(a, torch.Tensor) else ("k", "v")[n - 2]
            for n, a in enumerate(args)
        ]
        return f"{name}({', '.join(shown)})"

    before = "; ".join(short(j) for j in range(max(0, i - 2), i))
    return f"op {i} {short(i)}" + (f" (after {before})" if before else "")


DRILL = KVCacheDrill()
