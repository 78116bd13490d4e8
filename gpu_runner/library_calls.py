"""Library calls that would do a drill's work for the member, and finding them in a file.

A drill declares them (`Drill.library_calls`): a softmax drill is not passed by
`torch.softmax`. They are looked for twice. Here, on the trusted side, in the submission's
syntax tree before anything runs: imports and their aliases are followed (`import
torch.nn.functional as F; F.softmax`, `from torch import softmax as s`), so are simple
assignments (`f = torch.softmax`), tensor methods (`x.softmax(-1)`) and `getattr(x, "softmax")`.
Then, inside the sandbox, the same callables are replaced by guards before the submission is
imported (see `sandbox_entry.py`), which catches what the text hides (`getattr(torch, "soft" +
"max")`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LibraryCall:
    """A callable a drill forbids, by its dotted name; with `keyword`, only when that is given.

    `position` is where the keyword's value sits when it is passed positionally.
    """

    name: str
    keyword: str | None = None
    position: int | None = None

    @property
    def leaf(self) -> str:
        """Return the last part of the name (the attribute a method call uses)."""
        return self.name.rsplit(".", 1)[-1]

    @property
    def is_tensor_method(self) -> bool:
        """Return whether this is a method of torch.Tensor (called as `x.name(...)`)."""
        return self.name.startswith("torch.Tensor.")

    def describe(self) -> str:
        """Name the call for a message."""
        return self.name + (f" with {self.keyword}" if self.keyword else "")

    def to_plain(self) -> list[object]:
        """Return the call as plain data for the sandbox's job file."""
        return [self.name, self.keyword, self.position]


def family(*names: str) -> tuple[LibraryCall, ...]:
    """Return unconditional library calls for each dotted name."""
    return tuple(LibraryCall(n) for n in names)


SOFTMAX_CALLS = family(
    "torch.softmax",
    "torch.nn.functional.softmax",
    "torch.special.softmax",
    "torch.Tensor.softmax",
    "torch._softmax",
    "torch.nn.Softmax",
    "torch._C._VariableFunctions.softmax",
    "torch._C._VariableFunctions._softmax",
    "torch.ops.aten.softmax",
    "torch.ops.aten._softmax",
)
LOG_SOFTMAX_CALLS = family(
    "torch.log_softmax",
    "torch.nn.functional.log_softmax",
    "torch.special.log_softmax",
    "torch.Tensor.log_softmax",
    "torch._log_softmax",
    "torch.nn.LogSoftmax",
    "torch._C._VariableFunctions.log_softmax",
    "torch.ops.aten.log_softmax",
    "torch.ops.aten._log_softmax",
)
LOGSUMEXP_CALLS = family(
    "torch.logsumexp",
    "torch.special.logsumexp",
    "torch.Tensor.logsumexp",
    "torch._C._VariableFunctions.logsumexp",
    "torch.ops.aten.logsumexp",
)
ATTENTION_CALLS = family(
    "torch.nn.functional.scaled_dot_product_attention",
    "torch._C._nn.scaled_dot_product_attention",
    "torch.nn.functional.multi_head_attention_forward",
    "torch.nn.MultiheadAttention",
    "torch.nn.attention.flex_attention.flex_attention",
    "torch.ops.aten.scaled_dot_product_attention",
    "torch.ops.aten._scaled_dot_product_flash_attention",
    "torch.ops.aten._scaled_dot_product_efficient_attention",
    "torch.ops.aten._scaled_dot_product_flash_attention_for_cpu",
)
GELU_CALLS = family(
    "torch.nn.functional.gelu",
    "torch._C._nn.gelu",
    "torch.nn.GELU",
    "torch.ops.aten.gelu",
)
LABEL_SMOOTHING_CALLS = (
    LibraryCall("torch.nn.functional.cross_entropy", "label_smoothing", 7),
    LibraryCall("torch.nn.CrossEntropyLoss", "label_smoothing", 5),
    LibraryCall("torch._C._nn.cross_entropy_loss", "label_smoothing", 5),
)
ADAMW_CALLS = family(
    "torch.optim.AdamW",
    "torch.optim.Adam",
    "torch.optim.adamw.adamw",
    "torch.optim.adam.adam",
    "torch.optim._functional.adamw",
    "torch.optim._functional.adam",
    "torch._fused_adamw_",
    "torch._fused_adam_",
)


@dataclass(frozen=True)
class Use:
    """Where a submission uses a forbidden library call."""

    call: LibraryCall
    line: int

    def message(self) -> str:
        """Say what was found and what to do instead."""
        return (
            f"submission.py line {self.line} uses {self.call.describe()}, which would do this "
            "drill's work for you; write it from simpler operations"
        )


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


class _Finder(ast.NodeVisitor):
    def __init__(self, calls: Sequence[LibraryCall]) -> None:
        self.calls = list(calls)
        self.by_name: dict[str, list[LibraryCall]] = {}
        for call in self.calls:
            self.by_name.setdefault(call.name, []).append(call)
        self.methods = {c.leaf: c for c in self.calls if c.is_tensor_method}
        self.leaves: dict[str, LibraryCall] = {}
        for c in self.calls:
            if c.keyword is None:
                self.leaves.setdefault(c.leaf, c)
        self.aliases: dict[str, str] = {}
        self.star_modules: list[str] = []
        self.defined: set[str] = set()
        self.found: list[Use] = []

    # --- names -------------------------------------------------------------------------------

    def resolve(self, node: ast.AST) -> str | None:
        """Return the dotted library name an expression stands for, if it is one."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in self.defined:
                return None
            for module in self.star_modules:
                if f"{module}.{node.id}" in self.by_name:
                    return f"{module}.{node.id}"
            return None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                root = alias.name.split(".")[0]
                self.aliases[root] = root

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level or not node.module:
            return
        for alias in node.names:
            if alias.name == "*":
                self.star_modules.append(node.module)
            else:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def visit_Assign(self, node: ast.Assign) -> None:
        self.generic_visit(node)
        target = self.resolve(node.value)
        if target is not None:
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.aliases[t.id] = target

    # --- uses --------------------------------------------------------------------------------

    def _unconditional(self, name: str | None) -> LibraryCall | None:
        for call in self.by_name.get(name or "", []):
            if call.keyword is None:
                return call
        return None

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            return
        call = self._unconditional(self.resolve(node))
        if call is not None:
            self.found.append(Use(call, node.lineno))

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self.resolve(node)
        call = self._unconditional(name)
        if call is None and name is None and node.attr in self.methods:
            # A method on something that is not a module: a tensor's `x.softmax(-1)`.
            call = self.methods[node.attr]
        if call is not None:
            self.found.append(Use(call, node.lineno))
            return
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.resolve(node.func)
        for call in self.by_name.get(name or "", []):
            if call.keyword is not None and self._passes(node, call):
                self.found.append(Use(call, node.lineno))
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and isinstance(node.args[1].value, str)
            and node.args[1].value in self.leaves
        ):
            self.found.append(Use(self.leaves[node.args[1].value], node.lineno))
        self.generic_visit(node)

    @staticmethod
    def _passes(node: ast.Call, call: LibraryCall) -> bool:
        """Return whether a call gives the keyword a value that may not be zero."""
        values = [kw.value for kw in node.keywords if kw.arg == call.keyword]
        if call.position is not None and len(node.args) > call.position:
            values.append(node.args[call.position])
        if any(kw.arg is None for kw in node.keywords):
            return True  # **kwargs: it may well hold the keyword
        for value in values:
            if isinstance(value, ast.Constant) and value.value in (None, 0, 0.0, False):
                continue
            return True
        return False


def find_library_calls(source: str, calls: Iterable[LibraryCall]) -> list[Use]:
    """Return every use of the given library calls in `source`, in line order."""
    calls = list(calls)
    if not calls:
        return []
    try:
        tree = ast.parse(source, filename="submission.py")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    finder = _Finder(calls)
    # Names the file defines itself shadow whatever a star import brought in.
    finder.defined = {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    finder.visit(tree)
    return sorted(finder.found, key=lambda use: use.line)
