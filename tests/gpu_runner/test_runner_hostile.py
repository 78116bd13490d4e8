"""The sandbox against a corpus of hostile submissions: the right verdict, the host untouched."""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpu_runner.drills import get_drill
from gpu_runner.judge import judge
from gpu_runner.protocol import RunResult
from tests.gpu_runner.runner_support import (
    FAST,
    FAST_LIMITS,
    REFERENCE_MARKER,
    TIMED,
    TOTAL,
    hostile_source,
    is_alive,
    require_sandbox,
    sandbox_uid_processes,
)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def _sandbox_and_no_leftovers() -> Iterator[None]:
    require_sandbox()
    yield
    # Every judging must leave no process of the sandbox uid behind on the host.
    assert sandbox_uid_processes() == []


def run(name: str, options: object = FAST, **values: object) -> RunResult:
    return judge(TOTAL, hostile_source(name, **values), options=options)  # type: ignore[arg-type]


def everything(result: RunResult) -> str:
    return result.message + "\n" + result.output


class Listener:
    """A TCP and UDP listener on the host's loopback that records whatever reaches it."""

    def __init__(self) -> None:
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.port = self.tcp.getsockname()[1]
        self.tcp.listen()
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.udp.settimeout(0.2)
        self.received: list[bytes] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
                self.received.append(b"<connection>" + conn.recv(100))
                conn.close()
            except OSError:
                pass
            try:
                self.received.append(self.udp.recv(100))
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.tcp.close()
        self.udp.close()


def test_connecting_to_a_local_listener_fails_and_the_listener_hears_nothing() -> None:
    listener = Listener()
    try:
        result = run("connect_listener.py", port=listener.port)
    finally:
        listener.close()
    assert result.verdict == "error"
    assert "ConnectionError" in result.message
    assert "connected" not in result.message and "udp: sent" not in result.message
    assert listener.received == []


def test_a_secret_file_of_the_host_cannot_be_read(tmp_path: Path) -> None:
    secret = "s3cret-7c1d9e-do-not-leak"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    path.chmod(0o644)
    result = run("read_secret.py", secret_path=path)
    assert result.verdict == "error"
    assert "No such file" in result.message
    assert secret not in everything(result)
    # Only the sandbox's own processes are visible: its init and itself.
    assert "visible pids: 1 2" in result.message


def test_the_environment_holds_no_token_of_the_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    token = "xoxb-token-9f8e7d-never-inside"
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    monkeypatch.setenv("DISCORD_TOKEN", token)
    result = run("read_environment.py")
    assert result.verdict == "error"
    assert "HOME" in result.message  # the dump did happen
    assert token not in everything(result)
    assert "SLACK_BOT_TOKEN" not in everything(result)


def test_a_fork_bomb_hits_the_process_cap() -> None:
    result = run("fork_bomb.py")
    assert result.verdict == "error"
    assert "BlockingIOError" in result.message
    assert f"{FAST_LIMITS.processes} processes" in result.message


def test_a_spinning_fork_bomb_is_stopped_by_the_clock_and_leaves_nothing_behind() -> None:
    options = dataclasses.replace(FAST, limits=dataclasses.replace(FAST_LIMITS, startup_s=4))
    result = run("fork_bomb_spinning.py", options)
    assert result.verdict == "timeout"
    assert "loading submission.py did not finish within 4 s" in result.message
    # The host can still start processes.
    assert subprocess.run(["true"], check=False).returncode == 0


def test_a_memory_bomb_hits_the_memory_cap() -> None:
    result = run("memory_bomb.py")
    assert result.verdict == "error"
    assert "memory" in result.message.lower()
    assert f"{FAST_LIMITS.memory_mb} MiB" in result.message


def test_an_infinite_loop_times_out_on_the_case() -> None:
    result = run("infinite_loop.py")
    assert result.verdict == "timeout"
    assert "public case `short` did not finish within 3 s" in result.message


def test_the_cpu_time_limit_stops_a_busy_loop_that_the_wall_clock_would_allow() -> None:
    limits = dataclasses.replace(FAST_LIMITS, case_s=30, cpu_s=2)
    result = run("infinite_loop.py", dataclasses.replace(FAST, limits=limits))
    assert result.verdict == "timeout"
    assert "more than 2 s of CPU time" in result.message


def test_sleeping_forever_is_caught_by_the_wall_clock() -> None:
    result = run("sleep_forever.py")
    assert result.verdict == "timeout"
    assert "(wall clock)" in result.message


def test_filling_the_disk_stops_at_the_private_tmp(tmp_path: Path) -> None:
    marker = tmp_path / "written-from-inside"
    result = run("fill_disk.py", marker_path=marker)
    assert result.verdict == "error"
    assert "No space left on device" in result.message or "File too large" in result.message
    assert "written" not in result.message.replace("written-from-inside", "")
    assert not marker.exists()


def test_flooding_stdout_hits_the_output_cap() -> None:
    result = run("flood_stdout.py")
    assert result.verdict == "error"
    assert "printed more than" in result.message
    assert len(result.output) <= 4000


def test_killing_the_parent_the_judge_or_a_neighbour_reaches_nobody() -> None:
    canary = subprocess.Popen(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                               "sleep", "60"])  # fmt: skip
    try:
        result = run("kill_parent.py", judge_pid=os.getpid(), canary_pid=canary.pid)
        assert is_alive(canary.pid)
    finally:
        canary.kill()
        canary.wait()
    assert result.verdict == "passed"
    assert "parent: Operation not permitted" in result.output
    assert "judge: No such process" in result.output
    assert "canary: No such process" in result.output


def test_a_shell_spawned_inside_stays_inside(tmp_path: Path) -> None:
    marker = tmp_path / "touched-by-shell"
    result = run("spawn_shell.py", marker_path=marker)
    assert result.verdict == "error"
    assert "shell said: 65534" in result.message
    assert "Permission denied" in result.message or "No such file" in result.message
    assert not marker.exists()
    assert "conftest" not in result.message  # /work/main holds the venv only


def test_a_segfault_through_ctypes_is_a_crash_verdict() -> None:
    result = run("segfault.py")
    assert result.verdict == "error"
    assert "SIGSEGV" in result.message


def test_the_reference_can_neither_be_imported_nor_found() -> None:
    result = run("find_reference.py")
    assert result.verdict == "error"
    assert "gpu_runner.drills: ModuleNotFoundError" in result.message
    assert "tests.gpu_runner.runner_support: ModuleNotFoundError" in result.message
    assert "FOUND" not in result.message
    assert REFERENCE_MARKER not in everything(result)
    assert "work: .venv" in result.message


def test_a_patched_timer_is_caught_against_the_wall_clock() -> None:
    result = run("patch_timer.py", TIMED)
    assert result.verdict == "rejected"
    assert "timer" in result.message and "wall clock" in result.message


def test_patching_the_time_module_does_not_fool_the_timer() -> None:
    result = run("patch_timer_naive.py", TIMED)
    assert result.verdict == "passed", result.message
    assert result.timing is not None
    assert 0.05 < result.timing.speedup < 20


def test_cached_outputs_fail_the_recheck_of_timed_calls() -> None:
    result = run("cache_outputs.py", TIMED)
    assert result.verdict == "wrong"
    assert "timed call" in result.message and "not reuse or cache" in result.message


def test_mutating_the_inputs_is_caught() -> None:
    result = run("mutate_inputs.py")
    assert result.verdict == "rejected"
    assert "changed argument 1 in place" in result.message


def test_mutating_the_inputs_only_in_timed_calls_is_caught_by_their_digest() -> None:
    result = run("mutate_when_timed.py", TIMED)
    assert result.verdict == "rejected", result.message
    assert "timed call" in result.message and "changed its inputs in place" in result.message


def test_mutating_an_input_tensor_is_caught() -> None:
    result = judge(get_drill("softmax"), hostile_source("mutate_tensor.py"), options=FAST)
    assert result.verdict == "rejected"
    assert "changed argument 1 in place" in result.message


def test_forged_frames_on_the_private_channel_are_rejected() -> None:
    result = run("write_channel.py")
    assert result.verdict == "rejected"
    assert "private channel" in result.message


def test_namespace_ptrace_and_mount_calls_are_refused() -> None:
    result = run("escape_syscalls.py")
    assert result.verdict == "error"
    for refused in ("unshare=EPERM", "ptrace=EPERM", "mount=EPERM", "setuid0=EPERM"):
        assert refused in result.message
    assert "uid=65534" in result.message


def test_ending_the_process_early_is_an_error_verdict() -> None:
    result = run("exit_early.py")
    assert result.verdict == "error"
    assert "exit status 0" in result.message and "os._exit" in result.message


@pytest.mark.parametrize("probe", ["find_reference.py", "read_secret.py", "connect_listener.py"])
def test_each_probe_does_succeed_without_the_sandbox(probe: str, tmp_path: Path) -> None:
    # The same code run unsandboxed must find what it looks for, or the tests above prove
    # nothing about the sandbox.
    secret = "s3cret-visible-without-sandbox"
    path = tmp_path / "secret.txt"
    path.write_text(secret)
    listener = Listener()
    try:
        result = run(
            probe,
            dataclasses.replace(FAST, unsafe_no_sandbox=True),
            secret_path=path,
            port=listener.port,
        )
    finally:
        listener.close()
    assert result.unsafe
    if probe == "find_reference.py":
        assert "imported gpu_runner.drills" in result.message
    elif probe == "read_secret.py":
        assert secret in result.message
    else:
        assert b"<connection>LEAKED" in listener.received
