"""How a drill's inputs are handed to an entry point: the same code on both sides of the sandbox.

The judge copies this single file into the sandbox beside the submission, so it holds only the
generic calling convention: no reference solution, no seed, nothing secret. It depends on the
standard library alone; torch is imported lazily, and only by `dump` and `load`.

A function drill is called once per `FunctionCall`. A class drill is driven by a `Trace`: the
class is instantiated with the trace's init arguments and its ops are replayed in order, each
op's return value collected. Traces of time-dependent classes use a `FakeClock` that only the
`__advance_clock__` op moves, so the results are exact and reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ADVANCE_CLOCK = "__advance_clock__"
RAISED = "__raised__"

# Tags of the plain-data encoding. Chosen so that no drill's own data can collide with them.
_TAG = "__studybot__"


@dataclass(frozen=True)
class ClockSentinel:
    """Marks an init argument that replay replaces with the trace's fake clock."""


CLOCK = ClockSentinel()


@dataclass
class FunctionCall:
    """The inputs of one call of a function drill: positional and keyword arguments."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    """A seeded sequence of method calls on one instance of a class drill."""

    init_args: tuple[Any, ...] = ()
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    ops: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)


class FakeClock:
    """A clock in seconds that moves only when the trace says so."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        """Return the current time in seconds."""
        return self.now

    def set(self, t: float) -> None:
        """Move the clock to `t` seconds; time never runs backwards."""
        if t < self.now:
            raise ValueError(f"the clock cannot go back from {self.now} to {t}")
        self.now = float(t)


def _with_clock(value: Any, clock: FakeClock) -> Any:
    return clock if isinstance(value, ClockSentinel) else value


def _snapshot(value: Any) -> Any:
    # A method may return its internal list or dict and mutate it later; record what it was then.
    if isinstance(value, list | dict | set | tuple):
        try:
            return copy.deepcopy(value)
        except Exception:
            return value
    return value


def replay_trace(cls: Callable[..., Any], trace: Trace) -> list[object]:
    """Instantiate `cls` from the trace and replay its ops, returning each op's result in order.

    A clock op records None. An exception raised by an op is recorded as
    `("__raised__", type name)` and the replay goes on; one raised by the constructor propagates.
    """
    clock = FakeClock()
    args = tuple(_with_clock(a, clock) for a in trace.init_args)
    kwargs = {k: _with_clock(v, clock) for k, v in trace.init_kwargs.items()}
    instance = cls(*args, **kwargs)
    results: list[object] = []
    for name, op_args in trace.ops:
        if name == ADVANCE_CLOCK:
            clock.set(op_args[0])
            results.append(None)
            continue
        try:
            method = getattr(instance, name)
            results.append(_snapshot(method(*op_args)))
        except Exception as exc:
            results.append((RAISED, type(exc).__name__))
    return results


def call_entry(entry_obj: Callable[..., Any], inputs: FunctionCall | Trace) -> object:
    """Call a function drill's entry with one call's inputs, or replay a class drill's trace."""
    if isinstance(inputs, Trace):
        return replay_trace(entry_obj, inputs)
    return entry_obj(*inputs.args, **inputs.kwargs)


def describe_op(name: str, args: tuple[Any, ...]) -> str:
    """Render one trace op as the call a member would write, e.g. `put(3, 'x')`."""
    if name == ADVANCE_CLOCK:
        return f"clock advanced to t={args[0]!r}s"
    return f"{name}({', '.join(repr(a) for a in args)})"


def to_plain(obj: Any) -> Any:
    """Encode inputs or results as dicts, lists, strings, numbers, None and tensors only.

    The result survives JSON (when it holds no tensor) and `torch.load(weights_only=True)`, so
    neither side ever unpickles an arbitrary object coming from the other.
    """
    if isinstance(obj, ClockSentinel):
        return {_TAG: "clock"}
    if isinstance(obj, FunctionCall):
        return {_TAG: "call", "args": to_plain(obj.args), "kwargs": to_plain(obj.kwargs)}
    if isinstance(obj, Trace):
        return {
            _TAG: "trace",
            "init_args": to_plain(obj.init_args),
            "init_kwargs": to_plain(obj.init_kwargs),
            "ops": [[name, to_plain(args)] for name, args in obj.ops],
        }
    if isinstance(obj, tuple):
        return {_TAG: "tuple", "items": [to_plain(x) for x in obj]}
    if isinstance(obj, list):
        return [to_plain(x) for x in obj]
    if isinstance(obj, dict):
        if not all(isinstance(k, str) for k in obj):
            return {_TAG: "dict", "items": [[to_plain(k), to_plain(v)] for k, v in obj.items()]}
        return {k: to_plain(v) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        raise TypeError(f"cannot encode {type(obj).__name__}: only drill inputs and results")
    return obj


def from_plain(obj: Any) -> Any:
    """Decode what `to_plain` produced."""
    if isinstance(obj, list):
        return [from_plain(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    tag = obj.get(_TAG)
    if tag is None:
        return {k: from_plain(v) for k, v in obj.items()}
    if tag == "clock":
        return CLOCK
    if tag == "call":
        return FunctionCall(tuple(from_plain(obj["args"])), dict(from_plain(obj["kwargs"])))
    if tag == "trace":
        return Trace(
            tuple(from_plain(obj["init_args"])),
            dict(from_plain(obj["init_kwargs"])),
            [(str(name), tuple(from_plain(args))) for name, args in obj["ops"]],
        )
    if tag == "tuple":
        return tuple(from_plain(x) for x in obj["items"])
    if tag == "dict":
        return {from_plain(k): from_plain(v) for k, v in obj["items"]}
    raise ValueError(f"unknown encoded value tag {tag!r}")


def dump(obj: Any, path: str) -> None:
    """Write inputs or results to `path` in the plain encoding (via torch.save)."""
    import torch

    torch.save(to_plain(obj), path)


def load(path: str, map_location: str = "cpu") -> Any:
    """Read what `dump` wrote, refusing anything but plain data and tensors."""
    import torch

    return from_plain(torch.load(path, weights_only=True, map_location=map_location))
