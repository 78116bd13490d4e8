"""A runner node's rules (device kinds, refusals) and the local backend of the runner port."""

from __future__ import annotations

import asyncio
import threading

import pydantic
import pytest

from gpu_runner.client import JobRefusedError, LocalRunnerClient, RunnerClient
from gpu_runner.protocol import Refusal, RunJob, RunResult, parse_answer
from gpu_runner.worker import DeviceInfo, check_queues, gpu_kind, serve_job
from tests.gpu_runner.runner_support import FAST, require_sandbox

CPU = DeviceInfo(("cpu",), "cpu: test", "host")
H100 = DeviceInfo(("cpu", "cuda", "cuda-h100"), "cuda: NVIDIA H100 80GB HBM3", "host")
KV_SOURCE = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("NVIDIA H100 80GB HBM3", "cuda-h100"),
        ("NVIDIA H200", "cuda-h200"),
        ("NVIDIA A100-SXM4-80GB", "cuda-a100"),
        ("NVIDIA GeForce RTX 4090", "cuda-rtx4090"),
        ("Tesla T4", "cuda-t4"),
        ("Mystery accelerator", "cuda"),
    ],
)
def test_a_gpu_gets_a_finer_device_kind_from_its_name(name: str, kind: str) -> None:
    assert gpu_kind(name) == kind


def test_a_node_only_starts_on_queues_its_device_can_serve() -> None:
    assert check_queues(CPU, ["cpu"]) is None
    assert "no CUDA device" in (check_queues(CPU, ["cuda"]) or "")
    assert "not a a100" in (check_queues(H100, ["cuda-a100"]) or "")
    assert check_queues(H100, ["cuda", "cuda-h100", "cuda-big"]) is None
    assert "not a device kind" in (check_queues(CPU, ["CPU!"]) or "")
    assert "cuda-big" in H100.with_queues(["cuda-big"]).kinds


def test_a_job_names_its_queue() -> None:
    assert RunJob(job_id="j", drill="softmax", source="").kind == "cpu"
    assert RunJob(job_id="j", drill="softmax", source="", device="cuda").kind == "cuda"
    job = RunJob(job_id="j", drill="softmax", source="", device_kind="cuda-h100")
    assert job.kind == "cuda-h100"
    assert RunJob.from_json(job.to_json()) == job
    with pytest.raises(pydantic.ValidationError):
        RunJob(job_id="j", drill="softmax", source="", device_kind="GPU please")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ('{"version": 2, "job_id": "j", "drill": "kv_cache_bytes", "source": ""}', "version 1"),
        ('{"job_id": "j", "drill": "kv_cache_bytes", "source": ""}', "the job is none"),
        ("not json at all", "the job is none"),
        ('{"version": 1, "job_id": "j", "drill": "kv_cache_bytes"}', "malformed job: source"),
        (
            '{"version": 1, "job_id": "j", "drill": "kv_cache_bytes", "source": "", '
            '"device_kind": "cuda-h100"}',
            "serves cpu; the job needs cuda-h100",
        ),
        ('{"version": 1, "job_id": "j", "drill": "no_such_drill", "source": ""}', "unknown drill"),
    ],
)
def test_a_node_refuses_what_it_cannot_serve_without_judging(payload: str, reason: str) -> None:
    answer = parse_answer(serve_job(payload, CPU, options=FAST, worker="w1"))
    assert isinstance(answer, Refusal)
    assert reason in answer.reason
    assert answer.serves == ("cpu",) and answer.worker == "w1"


def test_a_node_judges_a_job_it_can_serve_and_signs_the_result() -> None:
    require_sandbox()
    job = RunJob(job_id="j9", drill="kv_cache_bytes", source=KV_SOURCE, timing=False)
    answer = parse_answer(serve_job(job.to_json(), CPU, options=FAST, worker="w1"))
    assert isinstance(answer, RunResult)
    assert answer.verdict == "passed" and answer.job_id == "j9"
    assert answer.worker == "w1" and answer.started_at is not None


class _GatedServe:
    """Stands in for the judge at the port's boundary: answers when the test opens the gate."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.started = threading.Event()
        self.calls: list[str] = []

    def __call__(self, payload: str, device: DeviceInfo, **kwargs: object) -> str:
        job = RunJob.from_json(payload)
        self.calls.append(job.job_id)
        progress = kwargs["progress"]
        progress(f"judging {job.job_id}")  # type: ignore[operator]
        self.started.set()
        self.gate.wait(30)
        if job.drill == "refuse_me":
            return Refusal(job_id=job.job_id, reason="no such drill here").to_json()
        return RunResult(
            job_id=job.job_id, drill=job.drill, verdict="passed", message="ok", sandbox="test"
        ).to_json()


def test_the_local_runner_queues_reports_and_collects_by_job_id() -> None:
    serve = _GatedServe()

    async def scenario() -> None:
        client: RunnerClient = LocalRunnerClient(FAST, concurrency=1, serve=serve)
        jobs = [RunJob(job_id=f"j{i}", drill="kv_cache_bytes", source="") for i in range(3)]
        ids = [await client.dispatch(job) for job in jobs]
        assert ids == ["j0", "j1", "j2"]
        assert await client.dispatch(jobs[0]) == "j0"  # a retried dispatch is the same task
        assert await asyncio.to_thread(serve.started.wait, 30)
        running = await client.status("j0")
        assert running.state == "running" and running.progress == "judging j0"
        assert [(await client.status(i)).position for i in ("j1", "j2")] == [0, 1]
        assert (await client.status("nope")).state == "unknown"
        serve.gate.set()
        results = [await client.wait(i, timeout_s=30) for i in ids]
        assert [r.job_id for r in results] == ids
        assert (await client.status("j1")).state == "done"
        assert serve.calls == ["j0", "j1", "j2"]
        refused = RunJob(job_id="r1", drill="refuse_me", source="")
        await client.dispatch(refused)
        with pytest.raises(JobRefusedError, match="no such drill here"):
            await client.wait("r1", timeout_s=30)
        await client.close()

    asyncio.run(scenario())


def test_studybot_worker_starts_the_node_and_says_why_it_cannot_serve_a_queue() -> None:
    import subprocess
    import sys

    pytest.importorskip("torch")
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the cuda queue is servable here")
    done = subprocess.run(
        [sys.executable, "-c", "from bot.cli import main; main()", "worker", "--queue", "cuda"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: this machine has no CUDA device, so it cannot serve the 'cuda' queue"
    )


def test_a_job_that_could_not_end_within_the_queues_time_limit_is_refused() -> None:
    job = RunJob(job_id="long", drill="kv_cache_bytes", source=KV_SOURCE, processes=9)
    answer = parse_answer(serve_job(job.to_json(), CPU, options=FAST, max_processes=4))
    assert isinstance(answer, Refusal)
    assert "asks for 9 timed processes" in answer.reason and "at most 4" in answer.reason


def test_the_visibility_timeout_follows_the_longest_job() -> None:
    from gpu_runner.celery_runner import RunnerNodeSettings, make_celery_app

    settings = RunnerNodeSettings(redis_url="redis://127.0.0.1:1/0", job_time_limit_s=600)
    assert settings.visibility_s == 660 and settings.max_processes == 2
    conf = make_celery_app(settings).conf
    assert conf.broker_transport_options["visibility_timeout"] == 660
    assert conf.task_time_limit == 600
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert RunnerNodeSettings().max_processes >= RunJob(job_id="j", drill="x", source="").processes


def test_the_backend_is_chosen_by_name() -> None:
    from gpu_runner.celery_runner import CeleryRunnerClient
    from gpu_runner.client import RunnerError, make_runner_client

    assert isinstance(make_runner_client("local"), LocalRunnerClient)
    celery_client = make_runner_client("celery", redis_url="redis://127.0.0.1:1/0")
    assert isinstance(celery_client, CeleryRunnerClient)
    asyncio.run(celery_client.close())
    with pytest.raises(RunnerError, match="use local or celery"):
        make_runner_client("carrier-pigeon")
