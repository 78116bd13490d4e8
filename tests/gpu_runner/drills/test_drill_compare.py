"""Comparison messages and tolerances: what a member reads when an output differs."""

from __future__ import annotations

import torch

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills import DRILLS
from gpu_runner.drills.base import (
    RAISED,
    Case,
    Tolerance,
    compare_tensors,
    compare_trace_results,
    compare_values,
)

TOL = Tolerance(1e-5, 1e-6)


def test_close_tensors_match_and_matching_infinities_are_equal() -> None:
    e = torch.tensor([1.0, float("-inf"), 3.0])
    assert compare_tensors(e + torch.tensor([1e-6, 0.0, 0.0]), e, TOL) is None


def test_first_mismatch_reports_index_values_count_and_tolerance() -> None:
    e = torch.zeros(2, 3)
    g = e.clone()
    g[1, 2] = 0.5
    msg = compare_tensors(g, e, TOL)
    assert msg is not None
    assert "output[1, 2] = 0.5, expected 0" in msg
    assert "1 of 6 elements differ" in msg
    assert "rtol=1e-05, atol=1e-06" in msg and "float32" in msg


def test_nan_and_one_sided_inf_are_named() -> None:
    e = torch.ones(4)
    msg = compare_tensors(torch.tensor([1.0, float("nan"), 1.0, 1.0]), e, TOL)
    assert msg and "output[1] = nan" in msg and "1 NaN" in msg
    msg = compare_tensors(torch.tensor([1.0, 1.0, float("inf"), 1.0]), e, TOL)
    assert msg and "output[2] = inf" in msg and "unexpected inf" in msg
    # A finite value where -inf was expected is wrong even with a relative tolerance.
    msg = compare_tensors(torch.tensor([0.0]), torch.tensor([float("-inf")]), Tolerance(1.0, 1.0))
    assert msg and "expected -inf" in msg


def test_shape_dtype_and_type_mismatches_say_what_was_expected() -> None:
    e = torch.zeros(3)
    assert "shape (3, 1), expected (3,)" in (compare_tensors(torch.zeros(3, 1), e, TOL) or "")
    msg = compare_tensors(torch.zeros(3, dtype=torch.float64), e, TOL)
    assert msg and "dtype float64, expected float32" in msg
    msg = compare_tensors([0.0, 0.0, 0.0], e, TOL)
    assert msg and "should be a torch.Tensor" in msg and "got list" in msg


def test_nested_values_name_the_position() -> None:
    e = (torch.zeros(2), torch.ones(2))
    msg = compare_values((torch.zeros(2), torch.zeros(2)), e, TOL, "(p, m)")
    assert msg and msg.startswith("(p, m)[1][0] = 0, expected 1")
    assert compare_values(3, 3, TOL) is None
    assert "should be an int" in (compare_values(3.0, 3, TOL) or "")
    assert "should be an int" in (compare_values(True, 1, TOL) or "")
    assert compare_values(False, True, TOL) == "output = False, expected True"


def test_trace_mismatch_names_the_op_and_what_came_before() -> None:
    trace = Trace((2,), {}, [("put", (1, "a")), ("put", (2, "b")), ("get", (1,)), ("get", (3,))])
    expected: list[object] = [None, None, "a", None]
    assert compare_trace_results(list(expected), expected, trace) is None
    msg = compare_trace_results([None, None, None, None], expected, trace)
    assert msg == "op 2 get(1) (after put(1, 'a'); put(2, 'b')): returned None, expected 'a'"
    msg = compare_trace_results([None, None, "a", (RAISED, "KeyError")], expected, trace)
    assert msg and msg.endswith("raised KeyError, expected None")
    assert "3 results for 4 ops" in (compare_trace_results([None] * 3, expected, trace) or "")


def test_top_p_accepts_either_decision_only_inside_the_boundary_band() -> None:
    drill = DRILLS["top_p_filter"]
    # Probabilities 0.5, 0.3, 0.2: with p = 0.8 the third token's mass above is exactly p.
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64)).float()
    inputs = FunctionCall((logits, 0.8), {})
    expected = drill.reference(inputs)
    assert isinstance(expected, torch.Tensor)
    flipped = expected.clone()
    flipped[0, 2] = logits[0, 2] if torch.isinf(expected[0, 2]) else float("-inf")
    case = Case("edge", {})
    assert drill.compare(case, flipped, expected, inputs) is None
    # Without the inputs there is no band: the strict comparison applies.
    assert drill.compare(case, flipped, expected) is not None
    # Away from the boundary a flipped token is still a mismatch.
    wrong = expected.clone()
    wrong[0, 1] = float("-inf")
    assert drill.compare(case, wrong, expected, inputs) is not None


def test_rope_tolerance_grows_with_the_largest_position() -> None:
    drill = DRILLS["rope"]
    near = Case("near", {"shape": (1, 4, 8), "positions": "arange"})
    far = Case("far", {"shape": (1, 4, 8), "positions": "random", "max_position": 8191})
    assert (
        drill.tolerance_for(far, torch.float32).atol
        > 10 * drill.tolerance_for(near, torch.float32).atol
    )


def test_low_precision_tolerances_accept_the_reference_run_in_that_dtype() -> None:
    checked = 0
    for drill in DRILLS.values():
        for dtype in drill.low_precision_dtypes:
            for case in drill.public_cases:
                low = Case(case.name, {**case.params, "dtype": dtype})
                inputs = drill.make_inputs(low, 0)
                expected = drill.reference(inputs)
                assert isinstance(inputs, FunctionCall)
                got = drill.reference_impl(*inputs.args, **inputs.kwargs)
                msg = drill.compare(low, got, expected, inputs)
                assert msg is None, f"{drill.id} {dtype} {case.name}: {msg}"
                checked += 1
    assert checked >= 30
