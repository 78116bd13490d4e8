"""Problems imported from reference-kernels style folders: read, carried in a job, judged."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from gpu_runner.imported import ProblemFormatError, check_verdict, read_problem_folder
from gpu_runner.judge import JudgeOptions, judge_job
from gpu_runner.protocol import RunJob
from tests.gpu_runner.runner_support import FAST_LIMITS, QUICK_TIMING, require_sandbox

pytestmark = pytest.mark.timeout(180)

PROBLEM = Path(__file__).parent / "problems" / "axpy_relu"
CORRECT = """
import torch
from task import input_t, output_t


def custom_kernel(data: input_t) -> output_t:
    x, y, alpha = data
    return torch.clamp(x * alpha + y, min=0.0)
"""
WRONG = """
import torch


def custom_kernel(data):
    x, y, alpha = data
    return torch.clamp(x + alpha * y, min=0.0)
"""
CHEATS = """
from reference import ref_kernel


def custom_kernel(data):
    return ref_kernel(data)
"""
OPTIONS = JudgeOptions(
    timing=False, limits=dataclasses.replace(FAST_LIMITS, case_s=20, memory_mb=2048)
)


def _job(source: str, *, timing: bool = False) -> RunJob:
    problem = read_problem_folder(PROBLEM)
    return RunJob(
        job_id="imported-1",
        drill=problem.name,
        source=source,
        device_kind=problem.device,
        timing=timing,
        processes=1,
        problem=problem,
    )


def test_the_folder_is_read_into_a_problem() -> None:
    problem = read_problem_folder(PROBLEM)
    assert problem.name == "gpumode_axpy_relu"
    assert problem.device == "cpu"
    assert set(problem.files) == {"task.py", "utils.py", "reference.py"}  # not eval.py
    assert [t["rows"] for t in problem.tests] == [7, 32, 1]
    assert problem.benchmarks == ({"rows": 512, "cols": 512, "seed": 21},)
    assert "def custom_kernel" in problem.template
    again = RunJob.from_json(_job(CORRECT).to_json())
    assert again.problem == problem


def test_a_folder_missing_a_reference_function_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "broken"
    shutil.copytree(PROBLEM, folder)
    text = (folder / "reference.py").read_text().replace("def check_implementation", "def check")
    (folder / "reference.py").write_text(text)
    with pytest.raises(ProblemFormatError, match="check_implementation"):
        read_problem_folder(folder)


def test_a_problem_file_may_not_shadow_the_judges_own(tmp_path: Path) -> None:
    folder = tmp_path / "shadow"
    shutil.copytree(PROBLEM, folder)
    task = (folder / "task.yml").read_text()
    (folder / "task.yml").write_text(task.replace('"name": "utils.py"', '"name": "wire.py"'))
    with pytest.raises(ProblemFormatError, match="wire.py"):
        read_problem_folder(folder)


def test_check_verdicts_in_every_shape_the_format_uses() -> None:
    assert check_verdict((True, "")) is None
    assert check_verdict(True) is None and check_verdict("") is None
    assert check_verdict((False, "3 values differ")) == "3 values differ"
    assert check_verdict("mismatch at 0") == "mismatch at 0"
    assert check_verdict(False) is not None


def test_a_correct_custom_kernel_passes() -> None:
    require_sandbox()
    result = judge_job(_job(CORRECT), options=OPTIONS)
    assert result.verdict == "passed", result.message
    assert result.cases_passed == result.cases_total == 3


def test_a_wrong_custom_kernel_fails_with_the_references_message() -> None:
    require_sandbox()
    result = judge_job(_job(WRONG), options=OPTIONS)
    assert result.verdict == "wrong"
    assert "test_1" in result.message and "differ from the reference" in result.message


def test_the_template_fails_and_the_reference_cannot_be_borrowed() -> None:
    require_sandbox()
    result = judge_job(_job(read_problem_folder(PROBLEM).template), options=OPTIONS)
    assert result.verdict == "error" and "NotImplementedError" in result.message
    cheat = judge_job(_job(CHEATS), options=OPTIONS)
    assert cheat.verdict == "rejected" and "reference.py" in cheat.message


def test_a_benchmark_is_timed_against_the_imported_reference() -> None:
    require_sandbox()
    timed = dataclasses.replace(OPTIONS, timing=True, timing_options=QUICK_TIMING)
    result = judge_job(_job(CORRECT, timing=True), options=timed)
    assert result.verdict == "passed", result.message
    assert result.timing is not None and result.timing.case == "benchmark_1"
    assert result.timing.reference.runs > 0
