"""The runner contract: frozen, versioned, JSON both ways, strict about what it accepts."""

from __future__ import annotations

import pydantic
import pytest

from gpu_runner.protocol import RunJob, RunResult, Timing, TimingStats


def _timing() -> Timing:
    ref = TimingStats(
        runs=9, processes=3, median=2e-3, mean=2.1e-3, stderr=1e-5, best=1.9e-3,
        worst=2.5e-3, spread=0.05, process_medians=(2e-3, 2.01e-3, 1.98e-3),
    )  # fmt: skip
    return Timing(
        case="bench", device="cpu: test", method="blocked autorange", runs=12, processes=3,
        median=1e-3, mean=1.1e-3, stderr=2e-5, best=0.9e-3, worst=1.6e-3, spread=0.1,
        reference=ref, speedup=2.0, tie_with_reference=False, note="",
    )  # fmt: skip


def test_a_job_round_trips_through_json() -> None:
    job = RunJob(job_id="j1", drill="softmax", source="x = 1\n", device="cuda", processes=5)
    assert RunJob.from_json(job.to_json()) == job
    assert '"version":1' in job.to_json()


def test_a_result_with_timing_round_trips_through_json() -> None:
    result = RunResult(
        job_id="j1", drill="softmax", verdict="passed", message="ok", timing=_timing(),
        sandbox="bubblewrap", cases_passed=3, cases_total=3,
    )  # fmt: skip
    back = RunResult.from_json(result.to_json())
    assert back == result
    assert back.passed and back.timing is not None and back.timing.reference.runs == 9


def test_models_are_frozen() -> None:
    job = RunJob(job_id="j1", drill="softmax", source="")
    with pytest.raises(pydantic.ValidationError):
        job.drill = "other"  # type: ignore[misc]


@pytest.mark.parametrize(
    "payload",
    [
        '{"version": 2, "job_id": "j", "drill": "softmax", "source": ""}',
        '{"version": 1, "job_id": "j", "drill": "softmax", "source": "", "sudo": true}',
        '{"version": 1, "job_id": "j", "drill": "softmax", "source": "", "device": "tpu"}',
        '{"version": 1, "job_id": "", "drill": "softmax", "source": ""}',
    ],
)
def test_other_versions_unknown_fields_and_bad_values_are_refused(payload: str) -> None:
    with pytest.raises(pydantic.ValidationError):
        RunJob.from_json(payload)


def test_a_result_needs_a_known_verdict() -> None:
    with pytest.raises(pydantic.ValidationError):
        RunResult(drill="softmax", verdict="maybe", message="", sandbox="")  # type: ignore[arg-type]
