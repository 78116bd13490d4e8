"""The judge's verdicts and messages, on the real softmax drill and on a fast pure-Python one."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from gpu_runner import sandbox
from gpu_runner.client import LocalRunnerClient
from gpu_runner.drills import UnknownDrillError, get_drill
from gpu_runner.drills.base import Case
from gpu_runner.judge import JudgeError, judge, judge_job
from gpu_runner.protocol import MAX_SOURCE_BYTES, RunJob, RunResult
from gpu_runner.sandbox import SandboxUnavailableError
from tests.gpu_runner.runner_support import (
    CORRECT_TOTAL,
    FAST,
    TIMED,
    TOTAL,
    TotalDrill,
    require_sandbox,
)

pytestmark = pytest.mark.timeout(120)

STABLE_SOFTMAX = """
import torch

def softmax(x, dim=-1):
    e = torch.exp(x - x.amax(dim=dim, keepdim=True))
    return e / e.sum(dim=dim, keepdim=True)
"""
NAIVE_SOFTMAX = """
import torch

def softmax(x, dim=-1):
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)
"""
RAISING_SOFTMAX = """
import torch

def helper(x):
    return x.reshape(-1, 7)

def softmax(x, dim=-1):
    return helper(x)
"""


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_sandbox()


def test_a_correct_softmax_passes_every_case() -> None:
    drill = get_drill("softmax")
    result = judge("softmax", STABLE_SOFTMAX, options=FAST)
    assert result.verdict == "passed", result.message
    assert result.cases_passed == result.cases_total == len(drill.all_cases())
    assert result.timing is None
    assert "uid 65534" in result.sandbox and "seccomp" in result.sandbox
    assert not result.unsafe


def test_the_sandbox_runs_the_judges_copy_of_a_provided_harness_not_the_members() -> None:
    """An edited copy of the provided fake cannot hide a missing TTL; leaving it out is fine."""
    solutions = Path(__file__).parent / "drills" / "solutions" / "tenant_quota"
    edited = (solutions / "wrong_no_expire_hidden_by_an_edited_fake.py").read_text()
    result = judge("tenant_quota", edited, options=FAST)
    assert result.verdict == "wrong" and "has no expiry" in result.message, result.message
    bare = (solutions / "ok_set_nx_then_refund.py").read_text()
    assert "class FakeRedis" not in bare and "def run_quota" not in bare
    result = judge("tenant_quota", bare, options=FAST)
    assert result.verdict == "passed", result.message
    raising = bare.replace("        key = f", "        1 / 0\n        key = f", 1)
    line = raising.splitlines().index("        1 / 0") + 1
    result = judge("tenant_quota", raising, options=FAST)
    assert result.verdict == "error" and "ZeroDivisionError" in result.message
    assert "the judge's `run_quota` (provided; not your file)" in result.message
    assert f"line {line}, in consume: 1 / 0" in result.message, result.message


def test_softmax_without_the_max_shift_is_wrong_with_a_pointed_message() -> None:
    result = judge("softmax", NAIVE_SOFTMAX, options=FAST)
    assert result.verdict == "wrong"
    assert "secret case `" in result.message
    assert "expected" in result.message and "NaN" in result.message
    assert result.cases_passed == 0


def test_an_exception_reports_the_members_lines_not_the_judges() -> None:
    result = judge("softmax", RAISING_SOFTMAX, options=FAST)
    assert result.verdict == "error"
    assert result.message.startswith("public case `rows` raised RuntimeError")
    assert "submission.py line 5, in helper: return x.reshape(-1, 7)" in result.message
    assert "submission.py line 8, in softmax" in result.message
    assert "sandbox_entry" not in result.message and "calling.py" not in result.message


def test_the_starter_template_is_an_error_until_implemented() -> None:
    result = judge(TOTAL, TOTAL.template, options=FAST)
    assert result.verdict == "error"
    assert "NotImplementedError" in result.message


def test_a_syntax_error_is_reported_with_its_line_before_any_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_start(*args: object, **kwargs: object) -> None:
        raise AssertionError("the sandbox must not start for a file that does not compile")

    monkeypatch.setattr(sandbox.Launcher, "start", no_start)
    result = judge(TOTAL, "def total(values):\n    return sum(values\n", options=FAST)
    assert result.verdict == "error"
    assert "submission.py line 2: SyntaxError" in result.message


def test_a_missing_entry_names_what_to_define() -> None:
    result = judge(TOTAL, "def totl(values):\n    return sum(values)\n", options=FAST)
    assert result.verdict == "error"
    assert "must define the function `total` at module level" in result.message


def test_an_oversized_file_is_rejected() -> None:
    source = CORRECT_TOTAL + "#" * (MAX_SOURCE_BYTES + 1)
    result = judge(TOTAL, source, options=FAST)
    assert result.verdict == "rejected"
    assert "limited to 256 KiB" in result.message


def test_an_unknown_drill_is_a_request_error_listing_the_ids() -> None:
    with pytest.raises(UnknownDrillError, match="known drills: softmax"):
        judge("nope", CORRECT_TOTAL)


def test_an_unknown_bench_case_is_a_request_error() -> None:
    with pytest.raises(JudgeError, match="no bench case 'huge'"):
        judge(TOTAL, CORRECT_TOTAL, options=dataclasses.replace(TIMED, bench_case="huge"))


def test_without_bubblewrap_the_judge_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_which", lambda name: None)
    with pytest.raises(SandboxUnavailableError, match="apt-get install bubblewrap"):
        judge(TOTAL, CORRECT_TOTAL, options=FAST)


def test_unsafe_mode_says_so_on_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_which", lambda name: None)  # no sandbox needed, none used
    result = judge(TOTAL, CORRECT_TOTAL, options=dataclasses.replace(FAST, unsafe_no_sandbox=True))
    assert result.verdict == "passed"
    assert result.unsafe
    assert result.message.startswith("[UNSAFE")
    assert result.sandbox.startswith("NONE")


def test_timing_reports_the_submission_beside_the_reference() -> None:
    result = judge(TOTAL, CORRECT_TOTAL, options=dataclasses.replace(TIMED, processes=2))
    assert result.verdict == "passed", result.message
    t = result.timing
    assert t is not None
    assert t.case == "bench" and t.processes == 2 and t.reference.processes == 2
    assert t.runs >= 2 * 5 and t.reference.runs >= 2 * 5
    assert 0 < t.best <= t.median <= t.worst
    assert t.best <= t.mean <= t.worst
    assert t.spread >= 0 and t.stderr >= 0
    # The speed-up is the median of per-round ratios, each round pairing the two sides.
    assert t.rounds == 2 * TIMED.timing_options.rounds
    assert t.speedup > 0
    assert t.device.startswith("cpu: ")
    assert ("tie" in t.note) == t.tie_with_reference
    payload = result.model_dump(mode="json")
    for key in ("verdict", "drill", "message", "timing", "sandbox"):
        assert key in payload
    for key in ("runs", "median", "mean", "stderr", "best", "worst", "spread", "device"):
        assert key in payload["timing"]
    assert "speedup" in payload["timing"] and "tie_with_reference" in payload["timing"]


def test_softmax_is_timed_against_its_reference_on_a_bench_shape() -> None:
    options = dataclasses.replace(TIMED, bench_case=Case("small", {"shape": (16, 500)}))
    result = judge("softmax", STABLE_SOFTMAX, options=options)
    assert result.verdict == "passed", result.message
    assert result.timing is not None and result.timing.case == "small", result.message
    # The same algorithm as the reference: any gap is noise, not a factor of five.
    assert 0.2 < result.timing.speedup < 5


def test_the_local_runner_honours_the_json_contract() -> None:
    source = (
        "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2,"
        " batch=1):\n    return 2 * n_layers * n_kv_heads * head_dim * seq_len"
        " * bytes_per_element * batch\n"
    )
    job = RunJob(job_id="job-1", drill="kv_cache_bytes", source=source, timing=False)
    client = LocalRunnerClient(FAST)
    answer = asyncio.run(client.judge_json(job.to_json()))
    result = RunResult.from_json(answer)
    assert result.job_id == "job-1"
    assert result.verdict == "passed", result.message


def test_a_job_overrides_the_options_it_names() -> None:
    job = RunJob(job_id="j", drill="kv_cache_bytes", source="x = 1\n", timing=False, processes=1)
    result = judge_job(job, options=FAST)
    assert result.verdict == "error"
    assert "must define the function `kv_cache_bytes`" in result.message


class _BrokenReferenceDrill(TotalDrill):
    """A drill whose reference fails: a fault of the judge's side, not of the submission."""

    def reference(self, inputs: object) -> object:
        raise RuntimeError("reference exploded")


def test_a_fault_of_the_judge_gives_an_error_id_not_a_stack_trace(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = judge(_BrokenReferenceDrill(), CORRECT_TOTAL, options=FAST)
    assert result.verdict == "error"
    assert "the judge itself failed" in result.message and "error id" in result.message
    assert "Traceback" not in result.message and "exploded" not in result.message
    assert "reference exploded" in caplog.text


def test_timing_stops_at_its_wall_budget_after_two_rounds_per_pair() -> None:
    from gpu_runner.harness import TimingOptions

    opts = TimingOptions(
        budget_s=0.4, rounds=8, min_rounds=3, wall_budget_s=0.0, max_pool_items=3000
    )
    messages: list[str] = []
    options = dataclasses.replace(TIMED, processes=3, timing_options=opts)
    result = judge(TOTAL, CORRECT_TOTAL, options=options, progress=messages.append)
    assert result.verdict == "passed", result.message
    assert result.timing is not None
    # Two pairs (the minimum), two rounds each: the budget was spent before any started.
    assert result.timing.processes == 2 and result.timing.rounds == 4
    assert any("speed-up so far" in m for m in messages)


def test_timing_goes_on_until_its_rounds_pin_the_speed_up_down(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from gpu_runner import judge as judging
    from gpu_runner.harness import TimingOptions

    settled: list[int] = []

    def never_settled(ratios: list[float], target_rel_error: float) -> bool:
        settled.append(len(ratios))
        return False

    # Whether three rounds settle a ranking depends on the machine's noise; here they never
    # do, so only the budget could stop a pair early, and it is roomy.
    monkeypatch.setattr(judging, "rounds_settled", never_settled)
    opts = TimingOptions(
        budget_s=0.4, rounds=4, min_rounds=2, target_rel_error=0.0, wall_budget_s=600,
        max_pool_items=3000,
    )  # fmt: skip
    options = dataclasses.replace(TIMED, processes=3, timing_options=opts)
    result = judge(TOTAL, CORRECT_TOTAL, options=options)
    assert result.timing is not None
    # Never settled and a roomy budget: every pair, every round.
    assert result.timing.processes == 3 and result.timing.rounds == 12
    assert settled == [2, 3] * 3  # each pair asked after its minimum rounds, every round


def test_a_pair_settles_once_its_speed_ups_agree_closely() -> None:
    from gpu_runner.judge import rounds_settled

    assert rounds_settled([1.0, 1.001, 0.999, 1.0], 0.01)
    assert not rounds_settled([1.0, 1.3, 0.8, 1.1], 0.01)
    assert not rounds_settled([1.0, 1.0], 0.01)  # two rounds say nothing of the spread
