"""What a drill is: spec, starter template, reference, seeded inputs, cases and tolerances.

This module runs on the trusted side only. The judge generates inputs here from a per-run seed,
ships them into the sandbox through `gpu_runner.calling`, and compares what comes back with
`Drill.compare`. Reference implementations live in the drill modules and never enter the
sandbox.
"""

from __future__ import annotations

import inspect
import math
import random
import textwrap
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeGuard

from gpu_runner.calling import RAISED, FunctionCall, Trace, call_entry, describe_op
from gpu_runner.library_calls import LibraryCall
from gpu_runner.sandbox_entry import PROVIDED_MARK

if TYPE_CHECKING:
    import torch

DrillKind = Literal["function", "class"]

TRITON_NOTE = (
    "On a CUDA worker the inputs live on the GPU and the submission may also launch "
    "Triton kernels; on a CPU worker plain PyTorch is all there is."
)


@dataclass(frozen=True)
class Case:
    """One judged situation of a drill: a name and the parameters its inputs are made from."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tolerance:
    """Elementwise closeness: |got - expected| <= atol + rtol * |expected|."""

    rtol: float
    atol: float

    def describe(self) -> str:
        """Render the tolerance for a message."""
        return f"rtol={self.rtol:g}, atol={self.atol:g}"


EXACT = Tolerance(0.0, 0.0)


def case_seed(drill_id: str, case_name: str, seed: int) -> int:
    """Mix the run seed with the drill and case so every case draws different numbers."""
    return zlib.crc32(f"{drill_id}/{case_name}/{seed}".encode()) & 0x7FFFFFFF


def torch_generator(drill_id: str, case: Case, seed: int) -> torch.Generator:
    """Return a CPU torch generator seeded for this drill, case and run seed."""
    import torch

    return torch.Generator().manual_seed(case_seed(drill_id, case.name, seed))


def python_rng(drill_id: str, case: Case, seed: int) -> random.Random:
    """Return a Python RNG seeded for this drill, case and run seed."""
    return random.Random(case_seed(drill_id, case.name, seed))


def dtype_of(name: str) -> torch.dtype:
    """Return the torch dtype called `name` (e.g. "float32")."""
    import torch

    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dtype


def dtype_name(dtype: object) -> str:
    """Return the short name of a torch dtype or dtype string ("torch.float32" -> "float32")."""
    return str(dtype).removeprefix("torch.")


def standalone_source(*objects: Callable[..., Any] | type, imports: Sequence[str]) -> str:
    """Return a standalone module text defining `objects`, to time a reference like a file."""
    parts = ["\n".join(imports)] if imports else []
    parts += [textwrap.dedent(inspect.getsource(obj)).rstrip() for obj in objects]
    return "\n\n\n".join(parts) + "\n"


def function_template(
    drill_id: str, signature: str, docstring: str, imports: Sequence[str] = ("import torch",)
) -> str:
    """Return a starter file: the signature, its docstring, and a body that is not done yet."""
    doc = textwrap.indent(docstring.strip(), "    ").lstrip()
    name = signature.removeprefix("def ").split("(", 1)[0]
    head = "\n".join(imports) + "\n\n\n" if imports else ""
    return (
        f'"""Drill {drill_id}: write `{name}` below; the judge calls it on fresh inputs."""\n\n'
        f"{head}{signature}:\n"
        f'    """{doc}\n    """\n'
        f'    raise NotImplementedError("{name} is not implemented yet")\n'
    )


def _is_tensor(value: object) -> bool:
    try:
        import torch
    except ImportError:
        return False
    return isinstance(value, torch.Tensor)


def _fmt_num(x: float) -> str:
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.6g}"


def _fmt_index(index: Sequence[int]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]"


def compare_tensors(
    got: object, expected: torch.Tensor, tol: Tolerance, name: str = "output"
) -> str | None:
    """Compare a returned tensor with the expected one; None when close, else what differs."""
    import torch

    if not isinstance(got, torch.Tensor):
        return (
            f"{name} should be a torch.Tensor of shape {tuple(expected.shape)} and dtype "
            f"{dtype_name(expected.dtype)}, got {type(got).__name__}"
        )
    if tuple(got.shape) != tuple(expected.shape):
        return f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
    if got.dtype != expected.dtype:
        return f"{name} has dtype {dtype_name(got.dtype)}, expected {dtype_name(expected.dtype)}"
    if got.is_complex() or not (got.is_floating_point() or expected.is_floating_point()):
        bad = got.detach().cpu() != expected.detach().cpu()
        return _first_bad(name, got, expected, bad, None)
    # Bench outputs run to millions of elements and are re-checked during timing, so the
    # comparison stays in float32 (float64 for float64) and builds the message only on failure.
    work = torch.float64 if got.dtype == torch.float64 else torch.float32
    g = got.detach().cpu().to(work)
    e = expected.detach().cpu().to(work)
    # Equal values pass, matching infinities included (a filtered logit is -inf on both
    # sides); otherwise the expected value must be finite and the error within tolerance, so
    # a NaN, or an inf on one side only, is a mismatch no tolerance may hide.
    ok = (g == e) | (torch.isfinite(e) & ((g - e).abs() <= tol.atol + tol.rtol * e.abs()))
    if bool(ok.all()):
        return None
    return _first_bad(name, got, expected, ~ok, tol)


def _first_bad(
    name: str, got: torch.Tensor, expected: torch.Tensor, bad: torch.Tensor, tol: Tolerance | None
) -> str | None:
    import torch

    n_bad = int(bad.sum().item())
    if n_bad == 0:
        return None
    flat = int(torch.nonzero(bad.reshape(-1))[0].item())
    index = (
        [int(i) for i in torch.unravel_index(torch.tensor(flat), tuple(bad.shape))]
        if (bad.dim() > 0)
        else []
    )
    g_val = float(got.detach().cpu().reshape(-1)[flat].item())
    e_val = float(expected.detach().cpu().reshape(-1)[flat].item())
    where = f"{name}{_fmt_index(index)}" if index else name
    msg = f"{where} = {_fmt_num(g_val)}, expected {_fmt_num(e_val)}"
    total = bad.numel()
    if total > 1:
        msg += f"; {n_bad} of {total} elements differ"
    g_all = got.detach().cpu()
    if g_all.is_floating_point():
        n_nan = int(torch.isnan(g_all).sum().item())
        n_inf = int((torch.isinf(g_all) & ~torch.isinf(expected.detach().cpu())).sum().item())
        if n_nan:
            msg += f"; {n_nan} NaN in the {name} (an overflow or an inf - inf somewhere?)"
        if n_inf:
            msg += f"; {n_inf} unexpected inf in the {name}"
    if tol is not None:
        g64 = g_all.to(torch.float64)
        e64 = expected.detach().cpu().to(torch.float64)
        both = torch.isfinite(g64) & torch.isfinite(e64)
        err = float((g64 - e64).abs()[both].max().item()) if bool(both.any()) else 0.0
        if err > 0:
            msg += f"; largest finite error {err:.3g}"
        msg += f" (tolerance {tol.describe()}, {dtype_name(expected.dtype)})"
    return msg


def compare_values(
    got: object, expected: object, tol: Tolerance, name: str = "output"
) -> str | None:
    """Compare nested results (tensors, tuples, lists, numbers, bools, strings, None)."""
    if _is_tensor(expected):
        return compare_tensors(got, expected, tol, name)  # type: ignore[arg-type]
    if isinstance(expected, tuple | list):
        kind = "tuple" if isinstance(expected, tuple) else "list"
        if not isinstance(got, tuple | list):
            return f"{name} should be a {kind} of {len(expected)}, got {type(got).__name__}"
        if len(got) != len(expected):
            return f"{name} should have {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            msg = compare_values(g, e, tol, f"{name}[{i}]")
            if msg:
                return msg
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        if type(got) is not type(expected) or got != expected:
            return f"{name} = {got!r}, expected {expected!r}"
        return None
    if isinstance(expected, int):
        if isinstance(got, bool) or not isinstance(got, int):
            return f"{name} should be an int, got {type(got).__name__} {got!r}"
        if got != expected:
            return f"{name} = {got}, expected {expected}"
        return None
    if isinstance(expected, float):
        if isinstance(got, bool) or not isinstance(got, int | float):
            return f"{name} should be a float, got {type(got).__name__}"
        g, e = float(got), expected
        if math.isnan(g) != math.isnan(e) or (math.isinf(e) and g != e):
            return f"{name} = {_fmt_num(g)}, expected {_fmt_num(e)}"
        if not math.isnan(e) and not math.isinf(e) and abs(g - e) > tol.atol + tol.rtol * abs(e):
            return f"{name} = {_fmt_num(g)}, expected {_fmt_num(e)} (tolerance {tol.describe()})"
        return None
    if got != expected:
        return f"{name} = {got!r}, expected {expected!r}"
    return None


def _map_tensors(value: Any, fn: Callable[[Any], Any]) -> Any:
    if _is_tensor(value):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_map_tensors(v, fn) for v in value)
    if isinstance(value, list):
        return [_map_tensors(v, fn) for v in value]
    if isinstance(value, dict):
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    return value


def clone_inputs(inputs: FunctionCall | Trace) -> FunctionCall | Trace:
    """Return a copy of the inputs whose tensors are fresh clones."""
    if isinstance(inputs, Trace):
        return Trace(
            tuple(_map_tensors(list(inputs.init_args), lambda t: t.clone())),
            dict(inputs.init_kwargs),
            [(name, tuple(args)) for name, args in inputs.ops],
        )
    return FunctionCall(
        tuple(_map_tensors(list(inputs.args), lambda t: t.clone())),
        _map_tensors(dict(inputs.kwargs), lambda t: t.clone()),
    )


def first_float_dtype(value: Any) -> torch.dtype | None:
    """Return the dtype of the first floating-point tensor in a nested value, if any."""
    found: list[torch.dtype] = []

    def visit(t: Any) -> Any:
        if not found and t.is_floating_point():
            found.append(t.dtype)
        return t

    _map_tensors(value, visit)
    return found[0] if found else None


class Drill:
    """A coding exercise: subclasses set the spec attributes and implement `make_inputs`.

    `reference_impl` is the trusted implementation (a function, or a class for class drills).
    By default the expected output is the reference evaluated in float64 on a float64 copy of
    the inputs and cast back to the input dtype, so tolerances only have to absorb the
    submission's own rounding.
    """

    id: str
    title: str
    entry: str
    kind: DrillKind = "function"
    signature: str
    docstring: str
    notes: str = ""
    template: str
    public_cases: tuple[Case, ...]
    secret_cases: tuple[Case, ...]
    bench_cases: tuple[Case, ...]
    needs_torch: bool = True
    tolerances: Mapping[str, Tolerance] = {}
    default_tolerance: Tolerance = EXACT
    reference_impl: Callable[..., Any]
    reference_imports: tuple[str, ...] = ("import math", "import torch")
    reference_helpers: tuple[Callable[..., Any] | type, ...] = ()
    bank_questions: tuple[int, ...] = ()
    days: tuple[int, ...] = ()
    upcast_reference: bool = True
    # Class drills: methods whose contract returns nothing. Only whether they raise (and what)
    # is judged; any value they return is the member's business.
    void_methods: frozenset[str] = frozenset()
    # Library calls that would do the exercise for the member: a submission using one is
    # rejected (found in its text before it runs, and guarded inside the sandbox).
    library_calls: tuple[LibraryCall, ...] = ()
    # Replay the checked cases in a second fresh process and require the same results: for
    # drills whose contract asks for results that do not depend on the process (no salted
    # hash(), no id(), no iteration over a set of strings).
    same_across_processes: bool = False
    # Half-precision dtypes whose tolerance is calibrated (the reference run in that dtype
    # passes on the public cases). Judged cases are float32 unless a case asks otherwise.
    low_precision_dtypes: tuple[str, ...] = ()
    # What the template hands the member ready-made (a harness the judge calls, a fake Redis):
    # the judge appends its own copy after the member's file, so an edited copy changes nothing
    # and a file that leaves it out still runs.
    provided: tuple[Callable[..., Any] | type, ...] = ()
    provided_imports: tuple[str, ...] = ()

    # --- spec -------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        """Return the markdown a member reads: what to implement, the signature and docstring."""
        parts = [f"## {self.title}", "", "```python", self.signature, "```", "", self.docstring]
        if self.notes:
            parts += ["", self.notes]
        if self.library_calls:
            names = ", ".join(f"`{c.describe()}`" for c in self.public_library_calls())
            parts += ["", f"Not allowed (they would do the exercise for you): {names}."]
        if self.needs_torch:
            parts += ["", TRITON_NOTE]
        return "\n".join(parts).strip() + "\n"

    @property
    def reference_source(self) -> str:
        """Return the reference as a standalone file, to time it exactly like a submission."""
        return standalone_source(
            *self.reference_helpers, self.reference_impl, imports=self.reference_imports
        )

    def with_provided(self, source: str) -> str:
        """Return the member's file followed by the judge's copy of what the template provides."""
        if not self.provided:
            return source
        provided = standalone_source(*self.provided, imports=self.provided_imports)
        return f"{source.rstrip()}\n\n\n{PROVIDED_MARK}\n{provided}"

    def summary(self) -> dict[str, Any]:
        """Return the public facts of the drill (for `drill list --json`)."""
        return {
            "id": self.id,
            "title": self.title,
            "entry": self.entry,
            "kind": self.kind,
            "signature": self.signature,
            "needs_torch": self.needs_torch,
            "public_cases": [c.name for c in self.public_cases],
            "n_secret_cases": len(self.secret_cases),
            "bench_cases": [c.name for c in self.bench_cases],
            "dtypes": ["float32", *self.low_precision_dtypes] if self.needs_torch else [],
            "bank_questions": list(self.bank_questions),
            "not_allowed": [c.describe() for c in self.public_library_calls()],
            "days": list(self.days),
        }

    def public_library_calls(self) -> list[LibraryCall]:
        """Return the forbidden calls a member would write (not torch's private spellings)."""
        return [
            c
            for c in self.library_calls
            if not any(part.startswith("_") for part in c.name.split(".")[1:])
            and not c.name.startswith("torch.ops.")
        ]

    def all_cases(self) -> tuple[Case, ...]:
        """Return the public cases followed by the secret ones."""
        return self.public_cases + self.secret_cases

    # --- inputs and expected outputs ----------------------------------------------------------

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall | Trace:
        """Return fresh inputs for `case`, determined by `seed` alone."""
        raise NotImplementedError

    def reference(self, inputs: FunctionCall | Trace) -> object:
        """Return the expected output for `inputs` (trusted side only)."""
        if not self.upcast_reference or isinstance(inputs, Trace):
            return call_entry(self.reference_impl, clone_inputs(inputs))
        import torch

        out_dtype = first_float_dtype(list(inputs.args) + list(inputs.kwargs.values()))
        wide = FunctionCall(
            tuple(_map_tensors(list(inputs.args), _widen)),
            _map_tensors(dict(inputs.kwargs), _widen),
        )
        result = call_entry(self.reference_impl, wide)
        if out_dtype is None or out_dtype == torch.float64:
            return result
        return _map_tensors(result, lambda t: t.to(out_dtype) if t.is_floating_point() else t)

    # --- judging ------------------------------------------------------------------------------

    def tolerance(self, dtype: object) -> Tolerance:
        """Return the tolerance for outputs of `dtype` (a torch dtype or its name)."""
        return self.tolerances.get(dtype_name(dtype), self.default_tolerance)

    def tolerance_for(self, case: Case, dtype: object) -> Tolerance:
        """Return the tolerance for one case; drills whose error grows with a parameter override."""
        return self.tolerance(dtype)

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Return None when `got` matches `expected`, else a message a member can act on.

        `inputs` is optional; class drills use it to name the op whose result differs.
        """
        if self.kind == "class":
            return compare_trace_results(
                got,
                expected,
                inputs if isinstance(inputs, Trace) else None,
                void_methods=self.void_methods,
            )
        dtype = first_float_dtype(expected)
        tol = self.tolerance_for(case, dtype) if dtype is not None else EXACT
        return compare_values(got, expected, tol, self.output_name())

    def output_name(self) -> str:
        """Return how messages name the returned value."""
        return "output"


def _widen(t: Any) -> Any:
    import torch

    return t.to(torch.float64) if t.is_floating_point() else t.clone()


def raised(value: object) -> TypeGuard[tuple[str, str]]:
    """Return whether a replayed op's result records an exception."""
    return isinstance(value, tuple) and len(value) == 2 and value[0] == RAISED


def check_trace_shape(got: object, expected: object) -> str | None:
    """Return why `got` is not a list of op results as long as `expected`, or None."""
    if not isinstance(expected, list):
        raise TypeError("expected trace results as a list")
    if not isinstance(got, list | tuple):
        return f"the replay returned {type(got).__name__}, expected a list of op results"
    if len(got) != len(expected):
        return f"the replay returned {len(got)} results for {len(expected)} ops"
    return None


def describe_trace_op(trace: Trace | None, i: int) -> str:
    """Name op `i` of a trace as a member wrote it, with the ops just before it."""
    op = f"op {i}"
    if trace is not None and i < len(trace.ops):
        op += f" {describe_op(*trace.ops[i])}"
        op += _context(trace, i)
    return op


def compare_void_result(got: object, expected: object) -> str | None:
    """Judge an op whose contract returns nothing: only whether (and what) it raised."""
    if raised(expected):
        if got == expected:
            return None
        return f"{_describe_result(got)}, expected {_describe_expected(expected)}"
    if raised(got):
        return f"{_describe_result(got)}, expected it to succeed"
    return None


def compare_trace_results(
    got: object,
    expected: object,
    trace: Trace | None = None,
    *,
    void_methods: frozenset[str] = frozenset(),
) -> str | None:
    """Compare the per-op results of a replayed trace, naming the first op that differs.

    Ops of `void_methods` are judged only on whether they raised, and what.
    """
    shape = check_trace_shape(got, expected)
    if shape is not None:
        return shape
    assert isinstance(got, list | tuple) and isinstance(expected, list)
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        name = trace.ops[i][0] if trace is not None and i < len(trace.ops) else ""
        if name in void_methods:
            problem = compare_void_result(g, e)
            if problem is not None:
                return f"{describe_trace_op(trace, i)}: {problem}"
            continue
        msg = compare_values(g, e, EXACT, "result")
        if msg is None:
            continue
        got_text, wanted = _describe_result(g), _describe_expected(e)
        return f"{describe_trace_op(trace, i)}: {got_text}, expected {wanted}"
    return None


def _context(trace: Trace, i: int, before: int = 3) -> str:
    start = max(0, i - before)
    if start == i:
        return ""
    prev = "; ".join(describe_op(*op) for op in trace.ops[start:i])
    return f" (after {prev})"


def _describe_result(value: object) -> str:
    if raised(value):
        return f"raised {value[1]}"
    return f"returned {value!r}"


def _describe_expected(value: object) -> str:
    if raised(value):
        return f"a {value[1]} to be raised"
    return repr(value)


def check_in_process(
    drill: Drill,
    source: str,
    *,
    seeds: Sequence[int] = (0, 1),
    device: str = "cpu",
    allow_library_calls: bool = False,
) -> str | None:
    """Exec `source` in a fresh namespace and judge every case; the first failure or None.

    For drill tests only: this is not a sandbox and never runs a member's code. A forbidden
    library call is a failure unless `allow_library_calls` (to check tolerances against the
    library's own implementation).
    """
    from gpu_runner.library_calls import find_library_calls

    uses = find_library_calls(source, drill.library_calls)
    if uses and not allow_library_calls:
        return f"rejected: {uses[0].message()}"
    namespace: dict[str, Any] = {"__name__": "submission"}
    exec(compile(drill.with_provided(source), "<submission>", "exec"), namespace)
    entry = namespace.get(drill.entry)
    if entry is None:
        return f"the file does not define `{drill.entry}`"
    for case in drill.all_cases():
        for seed in seeds:
            expected = drill.reference(drill.make_inputs(case, seed, device))
            inputs = drill.make_inputs(case, seed, device)
            try:
                got = call_entry(entry, clone_inputs(inputs))
            except Exception as exc:
                return f"case {case.name} (seed {seed}): raised {type(exc).__name__}: {exc}"
            msg = drill.compare(case, got, expected, inputs)
            if msg is not None:
                return f"case {case.name} (seed {seed}): {msg}"
    return None
