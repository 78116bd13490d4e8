"""The kernel track: Triton drills judged in the sandbox under Triton's interpreter on a CPU."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from gpu_runner.drills import DRILLS, get_drill
from gpu_runner.judge import (
    INTERPRETER_NOTE,
    JudgeError,
    JudgeOptions,
    defines_triton_kernel,
    judge,
    kernel_precheck,
    uses_cuda_cpp,
)
from tests.gpu_runner.runner_support import FAST_LIMITS, require_sandbox

pytestmark = pytest.mark.timeout(180)
pytest.importorskip("triton", reason="the kernel track needs the `kernels` extra (Triton)")

SOLUTIONS = Path(__file__).parent / "drills" / "solutions"
# Triton's import and the interpreter's first launch take seconds on a loaded machine.
KERNEL = JudgeOptions(
    timing=True,
    limits=dataclasses.replace(FAST_LIMITS, case_s=30, startup_s=60, memory_mb=2048),
)

CORRECT_SOFTMAX = (SOLUTIONS / "triton_softmax" / "ok_one_row_per_program.py").read_text()
NO_MAX_SOFTMAX = (SOLUTIONS / "triton_softmax" / "wrong_no_max_shift.py").read_text()
NO_LAUNCH = """
import torch
import triton
import triton.language as tl


@triton.jit
def unused_kernel(x_ptr):
    pass


def softmax(x):
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)
"""
NO_KERNEL = """
import torch


def softmax(x):
    e = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return e / e.sum(dim=-1, keepdim=True)
"""
CUDA_CPP = """
import torch
from torch.utils.cpp_extension import load_inline

module = load_inline(name="softmax_ext", cpp_sources="", cuda_sources="", functions=["row_softmax"])


def softmax(x):
    return module.row_softmax(x)
"""


@pytest.fixture(autouse=True)
def _sandbox() -> None:
    require_sandbox()


def test_the_catalogue_has_a_triton_track() -> None:
    triton = [d for d in DRILLS.values() if d.summary().get("track") == "triton"]
    assert len(triton) >= 9
    variants = {d.summary()["variant_of"] for d in triton}
    assert {"softmax", "logsumexp", "attention", "tiled_attention", "rope", "gelu"} <= variants
    assert {"triton_layer_norm", "triton_matmul"} <= {d.id for d in triton}
    for drill in triton:
        assert "@triton.jit" in drill.template
        assert "TRITON_INTERPRET" in drill.description


def test_a_correct_triton_softmax_passes_and_says_timing_needs_a_gpu() -> None:
    result = judge("triton_softmax", CORRECT_SOFTMAX, options=KERNEL)
    assert result.verdict == "passed", result.message
    assert result.cases_passed == result.cases_total == len(get_drill("triton_softmax").all_cases())
    assert result.timing is None
    assert INTERPRETER_NOTE in result.message


def test_a_triton_softmax_without_the_max_subtraction_fails() -> None:
    result = judge("triton_softmax", NO_MAX_SOFTMAX, options=KERNEL)
    assert result.verdict == "wrong"
    assert "large_logits" in result.message and "NaN" in result.message


def test_a_launcher_that_launches_no_kernel_is_rejected() -> None:
    result = judge("triton_softmax", NO_LAUNCH, options=KERNEL)
    assert result.verdict == "rejected"
    assert "without launching a Triton kernel" in result.message


def test_a_file_without_a_triton_kernel_is_rejected_before_it_runs() -> None:
    result = judge("triton_softmax", NO_KERNEL, options=KERNEL)
    assert result.verdict == "rejected"
    assert "@triton.jit" in result.message and result.cases_passed == 0


def test_cuda_cpp_is_refused_on_a_cpu_runner_with_a_clear_message() -> None:
    result = judge("triton_softmax", CUDA_CPP, options=KERNEL)
    assert result.verdict == "rejected"
    assert "load_inline" in result.message and "cuda" in result.message


def test_cuda_cpp_needs_a_compiler_even_on_a_cuda_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gpu_runner.judge.cuda_compiler", lambda: None)
    refused = kernel_precheck(get_drill("triton_softmax"), CUDA_CPP, "cuda")
    assert refused is not None and "nvcc" in refused[1]
    monkeypatch.setattr("gpu_runner.judge.cuda_compiler", lambda: "/usr/local/cuda/bin/nvcc")
    assert kernel_precheck(get_drill("triton_softmax"), CUDA_CPP, "cuda") is None


def test_a_runner_without_triton_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "triton" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(JudgeError, match="kernels"):
        kernel_precheck(get_drill("triton_softmax"), CORRECT_SOFTMAX, "cpu")


def test_kernel_and_cuda_cpp_detection() -> None:
    assert defines_triton_kernel(CORRECT_SOFTMAX)
    assert defines_triton_kernel(
        "import triton\n@triton.autotune(configs=[], key=[])\n@triton.jit\ndef k(x): pass\n"
    )
    assert not defines_triton_kernel(NO_KERNEL)
    assert uses_cuda_cpp(CUDA_CPP)
    assert uses_cuda_cpp("import torch.utils.cpp_extension as ext\n")
    assert not uses_cuda_cpp(CORRECT_SOFTMAX)
