"""The judge checks what a drill's contract defines: no less, and no more.

No less: a result cached by shape fails correctness alone (every case is called twice on fresh
values), and a library call that does the exercise is rejected by name, whether the file says
it plainly or hides it from the text. No more: solutions written independently from the
question bank, using the freedoms the contract leaves (another hash, other block ids, values
returned where the contract returns nothing), pass in the sandbox.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_runner.drills import DRILLS
from gpu_runner.judge import judge
from gpu_runner.library_calls import find_library_calls
from tests.gpu_runner.runner_support import FAST, hostile_source, require_sandbox

pytestmark = pytest.mark.timeout(180)
SOLUTIONS = Path(__file__).parent / "drills" / "solutions"
PROCESS_DEPENDENT = Path(__file__).parent / "drills" / "process_dependent"


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_sandbox()


def test_a_softmax_cached_by_shape_fails_correctness_without_timing() -> None:
    result = judge("softmax", hostile_source("cache_by_shape.py"), options=FAST)
    assert result.verdict == "wrong", result.message
    assert "called again on fresh inputs" in result.message


def test_a_plain_library_softmax_is_rejected_before_it_runs() -> None:
    source = "import torch\n\n\ndef softmax(x, dim=-1):\n    return torch.softmax(x, dim)\n"
    result = judge("softmax", source, options=FAST)
    assert result.verdict == "rejected"
    assert result.message.startswith("submission.py line 5 uses torch.softmax")
    assert result.cases_passed == 0


def test_a_library_softmax_hidden_from_the_text_is_rejected_in_the_sandbox() -> None:
    source = hostile_source("hidden_library_call.py")
    assert find_library_calls(source, DRILLS["softmax"].library_calls) == []
    result = judge("softmax", source, options=FAST)
    assert result.verdict == "rejected", result.message
    assert "called torch.softmax" in result.message


def test_label_smoothing_by_the_library_is_rejected_but_plain_cross_entropy_is_allowed() -> None:
    smoothed = (SOLUTIONS / "label_smoothed_ce" / "rejected_builtin.py").read_text()
    result = judge("label_smoothed_ce", smoothed, options=FAST)
    assert result.verdict == "rejected"
    assert "cross_entropy with label_smoothing" in result.message
    own = (
        "import torch.nn.functional as F\n\n\n"
        "def label_smoothed_cross_entropy(logits, target, epsilon, ignore_index=-100):\n"
        "    vocab = logits.shape[-1]\n"
        "    flat, t = logits.reshape(-1, vocab), target.reshape(-1)\n"
        "    keep = t != ignore_index\n"
        "    nll = F.cross_entropy(flat, t, ignore_index=ignore_index)\n"
        "    uniform = -flat.log_softmax(-1).mean(-1)[keep].mean()\n"
        "    return (1 - epsilon) * nll + epsilon * uniform\n"
    )
    result = judge("label_smoothed_ce", own, options=FAST)
    assert result.verdict == "passed", result.message


@pytest.mark.parametrize(
    ("drill_id", "solution"),
    [
        ("hash_ring", "ok_sha1_wide_points.py"),
        ("hash_ring", "ok_strictly_after.py"),
        ("block_manager", "ok_lowest_ids_returned.py"),
        ("lru_cache", "ok_put_returns_evicted.py"),
    ],
)
def test_an_independent_solution_using_the_contracts_freedoms_passes_in_the_sandbox(
    drill_id: str, solution: str
) -> None:
    result = judge(drill_id, (SOLUTIONS / drill_id / solution).read_text(), options=FAST)
    assert result.verdict == "passed", result.message


def test_a_ring_on_the_salted_builtin_hash_is_caught_by_a_second_process() -> None:
    source = (PROCESS_DEPENDENT / "hash_ring_builtin_hash.py").read_text()
    result = judge("hash_ring", source, options=FAST)
    assert result.verdict == "wrong", result.message
    assert "a second process, given the same inputs, answered differently" in result.message
    assert "hashlib" in result.message
