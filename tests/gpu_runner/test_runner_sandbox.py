"""What a process inside the sandbox can see and do, read from inside; and the seccomp program."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from gpu_runner import sandbox
from gpu_runner.sandbox import SANDBOX_UID, job_directory, make_launcher, seccomp_program
from tests.gpu_runner.runner_support import FAST_LIMITS, require_sandbox

PROBE = r"""
import json, os, resource, socket
facts = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(), "pid": os.getpid()}
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
facts.update({k: status[k].strip() for k in ("CapEff", "CapBnd", "NoNewPrivs", "Seccomp")})
facts["env"] = sorted(os.environ)
facts["hostname"] = socket.gethostname()
facts["interfaces"] = [l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]]
facts["root"] = sorted(os.listdir("/"))
facts["limits"] = {n: resource.getrlimit(getattr(resource, n))[0]
                   for n in ("RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_AS", "RLIMIT_CPU")}
st = os.statvfs("/tmp")
facts["tmp_bytes"] = st.f_blocks * st.f_frsize
writable = {}
for path in ("/tmp/x", "/x", "/job/x", "/usr/x"):
    try:
        open(path, "w").close()
        writable[path] = True
    except OSError:
        writable[path] = False
facts["writable"] = writable
print(json.dumps(facts))
"""


def test_the_sandboxed_process_sees_and_may_do_only_what_it_should() -> None:
    require_sandbox()
    launcher = make_launcher(FAST_LIMITS)
    with job_directory() as job:
        (job / "probe.py").write_text(PROBE)
        proc = launcher.start(job, "probe.py")
        exit = proc.close(grace_s=30)
    assert exit.status == 0, exit.output
    facts = json.loads(exit.output)
    assert facts["uid"] == SANDBOX_UID and facts["gid"] == SANDBOX_UID and facts["groups"] == []
    assert facts["pid"] == 2  # a PID namespace of its own, under bwrap's init
    assert int(facts["CapEff"], 16) == 0 and int(facts["CapBnd"], 16) == 0
    assert facts["NoNewPrivs"] == "1" and facts["Seccomp"] == "2"
    assert "SLACK_BOT_TOKEN" not in facts["env"] and "PATH" in facts["env"]
    # bwrap adds PWD for the working directory it sets; nothing else comes from the host.
    assert set(facts["env"]) == set(sandbox.sandbox_environment(1)) | {"PWD"}
    assert facts["hostname"] == "sandbox"
    assert facts["interfaces"] == ["lo"]
    assert "home" not in facts["root"] and "var" not in facts["root"] and "opt" not in facts["root"]
    lim = facts["limits"]
    assert lim["RLIMIT_NOFILE"] == FAST_LIMITS.open_files
    assert lim["RLIMIT_FSIZE"] == FAST_LIMITS.file_size_mb << 20
    assert lim["RLIMIT_AS"] == FAST_LIMITS.address_space_mb << 20
    assert lim["RLIMIT_CPU"] == FAST_LIMITS.cpu_s
    assert facts["tmp_bytes"] == FAST_LIMITS.tmp_mb << 20
    assert facts["writable"] == {"/tmp/x": True, "/x": False, "/job/x": False, "/usr/x": False}


def test_the_run_leaves_no_cgroup_behind() -> None:
    require_sandbox()
    launcher = make_launcher(FAST_LIMITS)
    with job_directory() as job:
        (job / "probe.py").write_text("print('hi')\n")
        launcher.start(job, "probe.py").close(grace_s=30)
    leftovers = list(Path("/sys/fs/cgroup").glob(f"*/**/studybot-sandbox-{os.getpid()}-*"))
    assert leftovers == []


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_the_seccomp_program_checks_the_architecture_first(arch: str) -> None:
    prog = seccomp_program(arch)
    assert prog is not None and len(prog) % 8 == 0
    insns = [struct.unpack("=HBBI", prog[i : i + 8]) for i in range(0, len(prog), 8)]
    assert insns[0] == (0x20, 0, 0, 4)  # load seccomp_data.arch
    assert insns[2] == (0x06, 0, 0, 0x80000000)  # a foreign arch kills the process
    assert insns[-1] == (0x06, 0, 0, 0x7FFF0000)  # everything not listed is allowed
    # Every jump stays inside the program.
    for pc, (code, jt, jf, _k) in enumerate(insns):
        if code & 0x07 == 0x05:
            assert pc + 1 + max(jt, jf) < len(insns)


def test_an_unknown_architecture_gets_no_filter() -> None:
    assert seccomp_program("riscv64") is None
