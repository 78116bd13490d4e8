"""The calling convention shared by the sandbox and the trusted side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from gpu_runner.calling import (
    ADVANCE_CLOCK,
    CLOCK,
    RAISED,
    FakeClock,
    FunctionCall,
    Trace,
    call_entry,
    describe_op,
    dump,
    from_plain,
    load,
    replay_trace,
    to_plain,
)


class Recorder:
    """A toy class drill: remembers the clock and what it was given."""

    def __init__(self, name: str, clock: FakeClock) -> None:
        self.name = name
        self.clock = clock
        self.items: list[int] = []

    def now(self) -> float:
        return self.clock()

    def push(self, item: int) -> list[int]:
        self.items.append(item)
        return self.items

    def fail(self) -> None:
        raise KeyError("missing")


def test_replay_substitutes_the_clock_and_records_results() -> None:
    trace = Trace(
        ("r",),
        {"clock": CLOCK},
        [
            ("now", ()),
            (ADVANCE_CLOCK, (2.5,)),
            ("now", ()),
            ("push", (1,)),
            ("push", (2,)),
            ("fail", ()),
            ("now", ()),
        ],
    )
    assert replay_trace(Recorder, trace) == [0.0, None, 2.5, [1], [1, 2], (RAISED, "KeyError"), 2.5]


def test_returned_containers_are_snapshots() -> None:
    trace = Trace(("r", CLOCK), {}, [("push", (1,)), ("push", (2,))])
    first, second = replay_trace(Recorder, trace)
    assert first == [1] and second == [1, 2]


def test_constructor_errors_propagate() -> None:
    with pytest.raises(TypeError):
        replay_trace(Recorder, Trace((), {}, []))


def test_fake_clock_never_runs_backwards() -> None:
    clock = FakeClock(1.0)
    clock.set(1.5)
    assert clock() == 1.5
    with pytest.raises(ValueError):
        clock.set(1.25)


def test_call_entry_calls_functions_and_replays_classes() -> None:
    assert call_entry(lambda a, b=0: a - b, FunctionCall((5,), {"b": 2})) == 3
    assert call_entry(Recorder, Trace(("r", CLOCK), {}, [("push", (4,))])) == [[4]]


def test_describe_op_reads_like_a_call() -> None:
    assert describe_op("put", (3, "x")) == "put(3, 'x')"
    assert describe_op(ADVANCE_CLOCK, (0.125,)) == "clock advanced to t=0.125s"


def test_plain_encoding_round_trips_through_json() -> None:
    trace = Trace(
        (2.0, 4, CLOCK),
        {"mode": "x"},
        [("allow", ()), (ADVANCE_CLOCK, (0.5,)), ("allow", (2,))],
    )
    results = [None, (RAISED, "MemoryError"), {1: "a", 2: ("b", 3)}, [1, 2], True]
    for value in (trace, results, FunctionCall(([[1, 2]], "ab"), {"k": (1, 2)})):
        assert from_plain(json.loads(json.dumps(to_plain(value)))) == value


def test_dump_and_load_keep_tensors_and_refuse_objects(tmp_path: Path) -> None:
    call = FunctionCall((torch.arange(6.0).reshape(2, 3), 3), {"dim": -1})
    path = tmp_path / "inputs.pt"
    dump(call, str(path))
    back = load(str(path))
    assert isinstance(back, FunctionCall)
    assert torch.equal(back.args[0], call.args[0]) and back.args[1:] == (3,)
    assert back.kwargs == {"dim": -1}

    hostile = tmp_path / "hostile.pt"
    torch.save({"x": Recorder("r", FakeClock())}, hostile)
    with pytest.raises(Exception, match="(?i)weights_only|unsupported|global"):
        load(str(hostile))


def test_dataclasses_other_than_drill_inputs_are_not_encoded() -> None:
    from gpu_runner.drills.base import Case

    with pytest.raises(TypeError):
        to_plain(Case("x", {}))
