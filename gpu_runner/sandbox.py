"""Running untrusted Python in a sandbox: namespaces, an unprivileged uid, seccomp, cgroups, limits.

Layers, outermost first:

- bubblewrap: private mount, PID, network, IPC and UTS namespaces. The file system is a fresh
  tmpfs holding read-only views of /usr, the dynamic linker's cache, the Python installation and
  its virtualenv (with StudyBot's own packages masked), the job directory (submission, the
  generic calling code, the entry script) and a size-capped private /tmp. Nothing of the bot is
  there: no settings, no database, no environment variables, no reference solutions, no seeds.
- an unprivileged uid (65534) for the untrusted process: when the judge runs as root, bwrap sets
  up the namespaces and `setpriv` drops to 65534 with no capabilities before Python starts, so
  the kernel's process limit binds (it never binds root); as another user, bwrap maps that user
  to 65534 in a user namespace and forbids nested ones.
- a seccomp filter (classic BPF built here, loaded by bwrap): sockets other than AF_UNIX,
  ptrace, namespace and mount calls, io_uring, bpf, perf, keyrings and module loading fail.
- cgroups where the judge may create them (v1 hierarchies, as in containers run as root): a pids
  cap (sturdier than RLIMIT_NPROC), a memory cap with OOM detection, and CPU accounting; they
  also kill the whole process tree at the end.
- rlimits (CPU seconds, address space on CPU nodes, file size, open files, processes, no core),
  a wall-clock watchdog (a sleeping submission burns no CPU) and an output cap.

If bubblewrap cannot start, `check()` raises `SandboxUnavailableError` and the judge refuses.
`UnsafeLauncher` runs the same entry in a plain subprocess for development only.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import io
import os
import platform
import queue
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpu_runner import wire

SANDBOX_UID = 65534
SANDBOX_GID = 65534
JOB_MOUNT = "/job"
# Top-level packages of the bot itself: never visible inside, even when installed into the venv.
PROJECT_PACKAGES = ("bot", "content", "graders", "gpu_runner", "migrations")
_ETC_FILES = (
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
)
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")


class SandboxUnavailableError(RuntimeError):
    """Raised when no sandbox can be set up on this machine; the judge refuses to run code."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process."""

    wall_s: float = 180.0
    startup_s: float = 60.0
    case_s: float = 10.0
    cpu_s: int = 120
    memory_mb: int = 2048
    address_space_mb: int = 8192
    file_size_mb: int = 16
    tmp_mb: int = 64
    open_files: int = 128
    processes: int = 64
    output_bytes: int = 1 << 20
    message_bytes: int = 1 << 30

    def describe(self, *, address_space: bool = True) -> str:
        """Render the limits for a result's sandbox line."""
        parts = [f"cpu {self.cpu_s} s", f"wall {self.wall_s:g} s"]
        if address_space:
            parts.append(f"address space {self.address_space_mb} MiB")
        parts += [
            f"file size {self.file_size_mb} MiB",
            f"{self.open_files} open files",
            f"{self.processes} processes",
            f"/tmp {self.tmp_mb} MiB",
            f"output {self.output_bytes // 1024} KiB",
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class Exit:
    """How a sandboxed process ended."""

    status: int | None
    signal: int | None
    limit: str | None
    limit_detail: str
    output: str
    output_bytes: int
    wall_s: float
    cpu_s: float | None


@dataclass(frozen=True)
class Message:
    """One frame from the entry: the decoded object and when its first byte arrived."""

    obj: Any
    at: float


class ChannelClosed(Exception):
    """Raised when the entry's channel ends (the process exited) before a reply arrived."""


class ChannelViolation(Exception):
    """Raised when the entry's channel carries bytes that are not a well-formed message."""


class StepTimeout(Exception):
    """Raised when a reply does not arrive before its deadline."""


# --- seccomp ---------------------------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
# name, x86_64, aarch64 ("-": no such call), checked against <asm/unistd_64.h> and
# <asm-generic/unistd.h>.
_SYSCALL_TABLE = """
socket 41 198
clone 56 220
clone3 435 435
ptrace 101 117
process_vm_readv 310 270
process_vm_writev 311 271
unshare 272 97
setns 308 268
mount 165 40
umount2 166 39
pivot_root 155 41
chroot 161 51
bpf 321 280
perf_event_open 298 241
keyctl 250 219
add_key 248 217
request_key 249 218
kexec_load 246 104
kexec_file_load 320 294
init_module 175 105
finit_module 313 273
delete_module 176 106
userfaultfd 323 282
open_by_handle_at 304 265
name_to_handle_at 303 264
iopl 172 -
ioperm 173 -
swapon 167 224
swapoff 168 225
reboot 169 142
acct 163 89
quotactl 179 60
io_uring_setup 425 425
io_uring_enter 426 426
io_uring_register 427 427
open_tree 428 428
move_mount 429 429
fsopen 430 430
fsconfig 431 431
fsmount 432 432
fspick 433 433
mount_setattr 442 442
syslog 103 116
lookup_dcookie 212 18
fanotify_init 300 262
pidfd_getfd 438 438
kcmp 312 272
settimeofday 164 170
clock_settime 227 112
adjtimex 159 171
"""


def _syscalls(column: int) -> dict[str, int]:
    table: dict[str, int] = {}
    for line in _SYSCALL_TABLE.strip().splitlines():
        fields = line.split()
        if fields[column] != "-":
            table[fields[0]] = int(fields[column])
    return table


_SYSCALLS = {"x86_64": _syscalls(1), "aarch64": _syscalls(2)}
_ALWAYS_ALLOWED_HERE = ("socket", "clone", "clone3")
_NAMESPACE_FLAGS = 0x7E020080  # CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWTIME
_AF_UNIX = 1
_EPERM, _EACCES, _ENOSYS = 1, 13, 38
_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_X32_SYSCALL_BIT = 0x40000000


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def seccomp_program(machine: str | None = None) -> bytes | None:
    """Return the sandbox's seccomp filter as classic BPF, or None on an unknown architecture."""
    arch = (machine or platform.machine()).lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(arch, arch)
    if arch not in _AUDIT_ARCH:
        return None
    table = _SYSCALLS[arch]
    errno = _RET_ERRNO
    prog = [
        _insn(_LD_ABS_W, 4),  # seccomp_data.arch
        _insn(_JEQ, _AUDIT_ARCH[arch], jt=1),
        _insn(_RET, _RET_KILL_PROCESS),
        _insn(_LD_ABS_W, 0),  # seccomp_data.nr
    ]
    if arch == "x86_64":
        # The x32 ABI numbers the same calls differently; refuse it outright.
        prog += [_insn(_JGE, _X32_SYSCALL_BIT, jf=1), _insn(_RET, errno | _EPERM)]
    for name, nr in sorted(table.items(), key=lambda kv: kv[1]):
        if name in _ALWAYS_ALLOWED_HERE:
            continue
        prog += [_insn(_JEQ, nr, jf=1), _insn(_RET, errno | _EPERM)]
    # glibc falls back to clone() when clone3() is missing, and clone's flags can be inspected.
    prog += [_insn(_JEQ, table["clone3"], jf=1), _insn(_RET, errno | _ENOSYS)]
    prog += [
        _insn(_JEQ, table["socket"], jf=4),
        _insn(_LD_ABS_W, 16),  # args[0] (domain), low word
        _insn(_JEQ, _AF_UNIX, jf=1),
        _insn(_RET, _RET_ALLOW),
        _insn(_RET, errno | _EACCES),
    ]
    prog += [
        _insn(_JEQ, table["clone"], jf=4),
        _insn(_LD_ABS_W, 16),  # args[0] (flags), low word
        _insn(_JSET, _NAMESPACE_FLAGS, jf=1),
        _insn(_RET, errno | _EPERM),
        _insn(_RET, _RET_ALLOW),
    ]
    prog.append(_insn(_RET, _RET_ALLOW))
    return b"".join(prog)


# --- cgroups ---------------------------------------------------------------------------------


def _own_cgroup_paths() -> dict[str, str]:
    paths: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return paths
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        for controller in parts[1].split(",") if parts[1] else ["unified"]:
            paths[controller] = parts[2]
    return paths


_CGROUP_PREFIX = "studybot-sandbox-"


def _sweep_stale(parent: Path) -> None:
    """Remove run cgroups left by judge processes that died before cleaning up."""
    try:
        children = list(parent.glob(f"{_CGROUP_PREFIX}*"))
    except OSError:
        return
    for child in children:
        owner = child.name.removeprefix(_CGROUP_PREFIX).split("-", 1)[0]
        if not owner.isdigit() or Path(f"/proc/{owner}").exists():
            continue
        with contextlib.suppress(OSError, ValueError):
            for pid in (child / "cgroup.procs").read_text().split():
                os.kill(int(pid), signal.SIGKILL)
        with contextlib.suppress(OSError):
            child.rmdir()


class Cgroups:
    """Per-run cgroups (v1 hierarchies): a pids cap, a memory cap and CPU accounting."""

    def __init__(self, dirs: dict[str, Path], limits: Limits) -> None:
        self.dirs = dirs
        self.limits = limits

    @classmethod
    def create(cls, limits: Limits) -> Cgroups:
        """Create the run's cgroups where the hierarchy is writable; missing ones are skipped."""
        own = _own_cgroup_paths()
        name = f"{_CGROUP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        dirs: dict[str, Path] = {}
        for controller in ("pids", "memory", "cpuacct"):
            mount = Path("/sys/fs/cgroup") / controller
            if not (mount / "cgroup.procs").exists():
                continue
            parent = mount / own.get(controller, "/").lstrip("/")
            if not parent.is_dir():
                parent = mount
            _sweep_stale(parent)
            path = parent / name
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                cls._configure(controller, path, limits)
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
                continue
            dirs[controller] = path
        return cls(dirs, limits)

    @staticmethod
    def _configure(controller: str, path: Path, limits: Limits) -> None:
        if controller == "pids":
            (path / "pids.max").write_text(str(limits.processes))
        elif controller == "memory":
            limit = str(limits.memory_mb * 1024 * 1024)
            (path / "memory.limit_in_bytes").write_text(limit)
            swap = path / "memory.memsw.limit_in_bytes"
            if swap.exists():
                # No swap either: the cap is on memory plus swap.
                swap.write_text(limit)
            with contextlib.suppress(OSError):
                (path / "memory.swappiness").write_text("0")

    @property
    def procs_files(self) -> list[str]:
        """Return the cgroup.procs files the launcher joins before it execs bubblewrap."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def describe(self) -> str:
        """Render which cgroups are in force."""
        parts = []
        if "pids" in self.dirs:
            parts.append(f"pids <= {self.limits.processes}")
        if "memory" in self.dirs:
            parts.append(f"memory <= {self.limits.memory_mb} MiB")
        if "cpuacct" in self.dirs:
            parts.append("cpu accounting")
        return "cgroups: " + ", ".join(parts) if parts else "no cgroups (not writable here)"

    def pids(self) -> list[int]:
        """Return the pids still in the run's cgroups."""
        found: set[int] = set()
        for d in self.dirs.values():
            with contextlib.suppress(OSError, ValueError):
                found.update(int(x) for x in (d / "cgroup.procs").read_text().split())
        return sorted(found)

    def kill_all(self) -> None:
        """Kill every process left in the run's cgroups, until none is left."""
        for _ in range(200):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.005)

    def oom_kills(self) -> int:
        """Return how many processes the memory cap killed."""
        path = self.dirs.get("memory")
        if path is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in (path / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def memory_failures(self) -> int:
        """Return how often an allocation hit the memory cap."""
        path = self.dirs.get("memory")
        if path is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            return int((path / "memory.failcnt").read_text())
        return 0

    def pids_refused(self) -> int:
        """Return how many forks the pids cap refused."""
        path = self.dirs.get("pids")
        if path is None:
            return 0
        with contextlib.suppress(OSError, ValueError):
            for line in (path / "pids.events").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "max":
                    return int(value)
        return 0

    def cpu_seconds(self) -> float | None:
        """Return the CPU time the run used, if accounted."""
        path = self.dirs.get("cpuacct")
        if path is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            return int((path / "cpuacct.usage").read_text()) / 1e9
        return None

    def remove(self) -> None:
        """Kill what is left and remove the cgroups."""
        self.kill_all()
        for d in self.dirs.values():
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.01)


# --- the running process ---------------------------------------------------------------------


class SandboxProcess:
    """A started sandbox: send commands on its stdin, read replies from its channel."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        channel_fd: int,
        limits: Limits,
        cgroups: Cgroups,
        *,
        signal_offset: bool,
    ) -> None:
        self._proc = proc
        self._limits = limits
        self._cgroups = cgroups
        self._signal_offset = signal_offset
        self._started = time.perf_counter()
        self._limit: str | None = None
        self._limit_detail = ""
        self._messages: queue.Queue[tuple[str, float, Any]] = queue.Queue()
        self._outgoing: queue.Queue[tuple[bytes, threading.Event, list[float]] | None] = (
            queue.Queue()
        )
        self._output_head = bytearray()
        self._output_tail = bytearray()
        self._output_bytes = 0
        self._lock = threading.Lock()
        self._closed = False
        self._exit: Exit | None = None
        channel = os.fdopen(channel_fd, "rb", buffering=0)
        self._threads = [
            threading.Thread(target=self._read_output, daemon=True),
            threading.Thread(target=self._read_channel, args=(channel,), daemon=True),
            threading.Thread(target=self._write_commands, daemon=True),
        ]
        for t in self._threads:
            t.start()
        self._watchdog = threading.Timer(limits.wall_s, self._kill_for, ("wall", ""))
        self._watchdog.daemon = True
        self._watchdog.start()

    @property
    def pid(self) -> int:
        """Return the launcher's pid on the host."""
        return self._proc.pid

    # Reading ---------------------------------------------------------------------------------

    def _read_output(self) -> None:
        stream = self._proc.stdout
        assert isinstance(stream, io.BufferedReader)
        keep = 8192
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            with self._lock:
                self._output_bytes += len(chunk)
                if len(self._output_head) < keep:
                    self._output_head += chunk[: keep - len(self._output_head)]
                self._output_tail += chunk
                del self._output_tail[:-keep]
                over = self._output_bytes > self._limits.output_bytes
            if over:
                self._kill_for("output", f"{self._limits.output_bytes // 1024} KiB")
                # Keep draining so the process can never block on a full pipe before it dies.

    def _read_channel(self, channel: Any) -> None:
        with channel:
            while True:
                try:
                    length = wire.read_frame_length(channel)
                except OSError:
                    length = None
                at = time.perf_counter()
                if length is None:
                    self._messages.put(("eof", at, None))
                    return
                if length > self._limits.message_bytes:
                    self._messages.put(("bad", at, f"a message of {length} bytes is too large"))
                    self._kill_for("message", f"{self._limits.message_bytes} bytes")
                    return
                data = wire.read_exact(channel, length)
                if data is None:
                    self._messages.put(("eof", at, None))
                    return
                try:
                    obj = wire.decode(data)
                except wire.WireError as exc:
                    self._messages.put(("bad", at, str(exc)))
                    continue
                except Exception as exc:  # a decoder fault must not hang the judge
                    self._messages.put(("bad", at, f"{type(exc).__name__}: {exc}"))
                    continue
                self._messages.put(("msg", at, obj))

    def receive(self, timeout: float) -> Message:
        """Return the next message, or raise StepTimeout, ChannelClosed or ChannelViolation."""
        try:
            kind, at, obj = self._messages.get(timeout=max(0.0, timeout))
        except queue.Empty:
            raise StepTimeout from None
        if kind == "eof":
            self._messages.put((kind, at, obj))  # later calls see the end too
            raise ChannelClosed
        if kind == "bad":
            raise ChannelViolation(str(obj))
        return Message(obj, at)

    # Writing ---------------------------------------------------------------------------------

    def _write_commands(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        while True:
            item = self._outgoing.get()
            if item is None:
                with contextlib.suppress(OSError):
                    stdin.close()
                return
            payload, done, stamp = item
            try:
                stdin.write(struct.pack(">I", len(payload)))
                stdin.write(payload)
                stdin.flush()
            except (OSError, ValueError):
                stamp.append(-1.0)
                done.set()
                return
            stamp.append(time.perf_counter())
            done.set()

    def send(self, obj: object, timeout: float) -> float:
        """Send one command; return when its last byte was accepted (perf_counter seconds)."""
        return self.send_bytes(wire.encode(obj), timeout)

    def send_bytes(self, payload: bytes, timeout: float) -> float:
        """Send one already-encoded command; see `send`."""
        done = threading.Event()
        stamp: list[float] = []
        self._outgoing.put((payload, done, stamp))
        if not done.wait(timeout):
            raise StepTimeout
        if stamp[0] < 0:
            raise ChannelClosed
        return stamp[0]

    # Ending ----------------------------------------------------------------------------------

    def _kill_for(self, limit: str, detail: str) -> None:
        with self._lock:
            if self._limit is None and not self._closed:
                self._limit, self._limit_detail = limit, detail
        self.kill()

    def kill(self) -> None:
        """Kill the sandbox and every process in it."""
        with contextlib.suppress(OSError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self._proc.kill()
        self._cgroups.kill_all()

    def mark_limit(self, limit: str, detail: str = "") -> None:
        """Record that the judge stopped the process for `limit`, then kill it."""
        self._kill_for(limit, detail)

    def close(self, grace_s: float = 2.0) -> Exit:
        """Stop the process (after `grace_s` for a clean exit), clean up, and say how it ended."""
        if self._exit is not None:
            return self._exit
        self._outgoing.put(None)
        try:
            self._proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.kill()
            self._proc.wait()
        with self._lock:
            self._closed = True
        self._watchdog.cancel()
        wall = time.perf_counter() - self._started
        cpu = self._cgroups.cpu_seconds()
        oom = self._cgroups.oom_kills()
        self._cgroups.kill_all()
        for t in self._threads[:2]:
            t.join(timeout=2.0)
        self._cgroups.remove()
        status = self._proc.returncode
        sig: int | None = None
        if status is not None and status < 0:
            sig, status = -status, None
        elif status is not None and self._signal_offset and status > 128:
            # bubblewrap reports a child killed by signal N as exit status 128 + N.
            sig = status - 128
        limit, detail = self._limit, self._limit_detail
        if limit is None:
            limit, detail = self._classify(sig, oom, cpu)
        with self._lock:
            output = self._render_output()
            out_bytes = self._output_bytes
        self._exit = Exit(status, sig, limit, detail, output, out_bytes, wall, cpu)
        return self._exit

    def _classify(self, sig: int | None, oom: int, cpu: float | None) -> tuple[str | None, str]:
        lim = self._limits
        if oom:
            return "memory", f"{lim.memory_mb} MiB"
        if sig == signal.SIGXCPU or (
            sig == signal.SIGKILL and cpu is not None and cpu >= 0.95 * lim.cpu_s
        ):
            return "cpu", f"{lim.cpu_s} s"
        if sig == signal.SIGXFSZ:
            return "file size", f"{lim.file_size_mb} MiB"
        return None, ""

    def _render_output(self) -> str:
        if self._output_bytes <= len(self._output_head):
            return bytes(self._output_head).decode("utf-8", "replace")
        skipped = self._output_bytes - len(self._output_head) - len(self._output_tail)
        head = bytes(self._output_head).decode("utf-8", "replace")
        tail = bytes(self._output_tail).decode("utf-8", "replace")
        if skipped <= 0:
            return bytes(self._output_head + self._output_tail[-skipped:]).decode(
                "utf-8", "replace"
            )
        return f"{head}\n[... {skipped} bytes not kept ...]\n{tail}"

    def pids_refused(self) -> int:
        """Return how many forks the pids cgroup refused so far."""
        return self._cgroups.pids_refused()

    def memory_failures(self) -> int:
        """Return how many allocations hit the memory cgroup's cap so far."""
        return self._cgroups.memory_failures()


# --- launchers -------------------------------------------------------------------------------


def _which(name: str) -> str | None:
    for d in ("/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return shutil.which(name)


def _prlimit_args(limits: Limits, *, address_space: bool) -> list[str]:
    mib = 1024 * 1024
    args = [
        f"--cpu={limits.cpu_s}:{limits.cpu_s + 1}",
        f"--fsize={limits.file_size_mb * mib}",
        f"--nofile={limits.open_files}",
        f"--nproc={limits.processes * 2}",
        "--core=0",
    ]
    if address_space:
        args.append(f"--as={limits.address_space_mb * mib}")
    return args


# Joins the given cgroups, then execs the rest of the command line: the cgroups hold the whole
# tree from its first process, so nothing forks before the caps apply.
_JOIN_CGROUPS = (
    'while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; '
    'shift; exec "$@"'
)


def rlimit_settings(limits: Limits, *, address_space: bool) -> dict[str, int]:
    """Return the rlimits the entry re-applies inside (names of `resource.RLIMIT_*`)."""
    mib = 1024 * 1024
    values = {
        "RLIMIT_CPU": limits.cpu_s,
        "RLIMIT_FSIZE": limits.file_size_mb * mib,
        "RLIMIT_NOFILE": limits.open_files,
        "RLIMIT_CORE": 0,
    }
    if address_space:
        values["RLIMIT_AS"] = limits.address_space_mb * mib
    return values


def sandbox_environment(threads: int) -> dict[str, str]:
    """Return the whole environment of the sandboxed process: nothing of the host's."""
    n = str(threads)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "OPENBLAS_NUM_THREADS": n,
        "TRITON_CACHE_DIR": "/tmp/triton",
        "TORCH_EXTENSIONS_DIR": "/tmp/torch_extensions",
    }


class Launcher:
    """Starts the entry script of a job directory in some kind of isolation."""

    unsafe = False

    def __init__(self, limits: Limits, device: str = "cpu", threads: int = 1) -> None:
        self.limits = limits
        self.device = device
        self.threads = threads

    def check(self) -> None:
        """Raise SandboxUnavailableError if this launcher cannot run code here."""

    def describe(self) -> str:
        """Render the isolation in force, for results."""
        raise NotImplementedError

    def job_path(self, job_dir: Path) -> str:
        """Return where the job directory appears to the sandboxed process."""
        raise NotImplementedError

    def prepare_job_dir(self, job_dir: Path) -> None:
        """Give the job directory the ownership and modes the sandboxed process needs."""

    def command(
        self, job_dir: Path, argv: Sequence[str], cgroups: Cgroups, fds: Sequence[int]
    ) -> list[str]:
        """Return the host command line that runs `argv` in the sandbox (`fds`: extra_fds)."""
        raise NotImplementedError

    def extra_fds(self) -> list[int]:
        """Open the file descriptors the command passes on (closed by the caller)."""
        return []

    def start(self, job_dir: Path, script: str, args: Sequence[str] = ()) -> SandboxProcess:
        """Start `python <job>/<script> <job> <channel fd> args...` in the sandbox."""
        self.prepare_job_dir(job_dir)
        cgroups = Cgroups.create(self.limits)
        read_fd, write_fd = os.pipe()
        inside = self.job_path(job_dir)
        argv = [
            sys.executable,
            "-I",
            "-B",
            "-u",
            f"{inside}/{script}",
            inside,
            str(write_fd),
            *args,
        ]
        extra_fds: list[int] = []
        try:
            extra_fds = self.extra_fds()
            cmd = self.command(job_dir, argv, cgroups, extra_fds)
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(write_fd, *extra_fds),
                env=sandbox_environment(self.threads),
                cwd="/",
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            cgroups.remove()
            raise
        finally:
            os.close(write_fd)
            for fd in extra_fds:
                os.close(fd)
        return SandboxProcess(proc, read_fd, self.limits, cgroups, signal_offset=not self.unsafe)


class BubblewrapLauncher(Launcher):
    """bubblewrap namespaces + uid 65534 + seccomp + cgroups + rlimits."""

    _checked: dict[tuple[object, ...], str | None] = {}

    def __init__(self, limits: Limits, device: str = "cpu", threads: int = 1) -> None:
        super().__init__(limits, device, threads)
        self.bwrap = _which("bwrap")
        self.setpriv = _which("setpriv")
        self.prlimit = _which("prlimit")
        self.as_root = os.geteuid() == 0
        self.seccomp = seccomp_program()

    # What is mounted ----------------------------------------------------------------------------

    @staticmethod
    def python_roots() -> list[str]:
        """Return the directories of the Python installation and virtualenv to mount read-only."""
        candidates = {
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sys.base_exec_prefix,
            os.path.dirname(os.path.dirname(os.path.realpath(sys.executable))),
        }
        roots: list[str] = []
        for path in sorted(os.path.realpath(c) for c in candidates):
            if path in ("/", "/usr") or path.startswith("/usr/"):
                continue  # /usr is mounted whole
            if any(path == r or path.startswith(r + "/") for r in roots):
                continue
            roots.append(path)
        # A prefix that is the project itself (or holds it) would expose the reference solutions.
        project = os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        for root in roots:
            if project == root or project.startswith(root + "/"):
                raise SandboxUnavailableError(
                    f"the Python environment at {root} contains the project itself; "
                    "use a virtualenv or installation outside it"
                )
        # The venv's python may point into another prefix through a symlink.
        exe_dir = os.path.dirname(sys.executable)
        if not any(exe_dir == r or exe_dir.startswith(r + "/") for r in [*roots, "/usr"]):
            roots.append(exe_dir)
        return roots

    @staticmethod
    def masked_package_dirs(roots: Sequence[str]) -> list[str]:
        """Return StudyBot's package directories that lie inside the mounted roots."""
        masked: list[str] = []
        for name in PROJECT_PACKAGES:
            try:
                spec = importlib.util.find_spec(name)
            except (ImportError, ValueError):
                continue
            if spec is None:
                continue
            locations = list(spec.submodule_search_locations or [])
            if spec.origin and not locations:
                locations.append(spec.origin)
            for loc in locations:
                real = os.path.realpath(loc)
                if any(real.startswith(r.rstrip("/") + "/") for r in [*roots, "/usr"]):
                    masked.append(real)
        return masked

    def _mounts(self, job_dir: Path) -> list[str]:
        args: list[str] = []
        for link in _ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        args += ["--ro-bind", "/usr", "/usr"]
        for path in _ETC_FILES:
            args += ["--ro-bind-try", path, path]
        # The private /tmp comes before the Python environment, so an environment installed
        # under /tmp (a checkout there, say) is bound on top of it rather than hidden by it.
        args += ["--perms", "1777", "--size", str(self.limits.tmp_mb * 1024 * 1024)]
        args += ["--tmpfs", "/tmp"]
        roots = self.python_roots()
        made: set[str] = {"/", "/tmp"}
        for root in roots:
            # bwrap would create missing parents as 0700 root-owned dirs, unreadable to uid 65534.
            parents = Path(root).parents
            for parent in reversed(parents):
                p = str(parent)
                if p not in made:
                    args += ["--perms", "0755", "--dir", p]
                    made.add(p)
            args += ["--ro-bind", root, root]
        for masked in self.masked_package_dirs(roots):
            if os.path.isdir(masked):
                args += ["--tmpfs", masked, "--remount-ro", masked]
            else:
                args += ["--ro-bind", "/dev/null", masked]
        args += ["--ro-bind", str(job_dir), JOB_MOUNT]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
        if self.device == "cuda":
            args += self._cuda_mounts()
        return args

    @staticmethod
    def _cuda_mounts() -> list[str]:
        args = ["--ro-bind", "/sys", "/sys"]
        dev = Path("/dev")
        for node in sorted(dev.glob("nvidia*")):
            args += ["--dev-bind", str(node), str(node)]
        for extra in ("/dev/dri",):
            args += ["--dev-bind-try", extra, extra]
        return args

    # The command --------------------------------------------------------------------------------

    def _bwrap_args(self, job_dir: Path, fds: Sequence[int]) -> list[str]:
        assert self.bwrap is not None
        args = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
        ]
        for key, value in sandbox_environment(self.threads).items():
            args += ["--setenv", key, value]
        if not self.as_root:
            args += ["--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_GID)]
            args += ["--cap-drop", "ALL"]
            if _version_tuple(_bwrap_version(self.bwrap)) >= (0, 8, 0):
                # Older bwrap lacks the flag; the seccomp filter refuses CLONE_NEWUSER anyway.
                args.append("--disable-userns")
        args += self._mounts(job_dir)
        if fds:
            args += ["--seccomp", str(fds[0])]
        args += ["--chdir", "/tmp"]
        return args

    def extra_fds(self) -> list[int]:
        """Return a pipe's read end holding the seccomp program, for bwrap --seccomp."""
        if self.seccomp is None:
            return []
        read_fd, write_fd = os.pipe()
        try:
            os.write(write_fd, self.seccomp)
        finally:
            os.close(write_fd)
        return [read_fd]

    def command(
        self, job_dir: Path, argv: Sequence[str], cgroups: Cgroups, fds: Sequence[int]
    ) -> list[str]:
        """Return sh (join cgroups) -> prlimit -> bwrap -> [setpriv ->] python."""
        if self.bwrap is None or self.prlimit is None:
            raise SandboxUnavailableError(self._missing_tools())
        cmd = ["/bin/sh", "-c", _JOIN_CGROUPS, "sandbox-launch", *cgroups.procs_files, "--"]
        cmd += [self.prlimit, *_prlimit_args(self.limits, address_space=self.device == "cpu")]
        cmd += ["--", *self._bwrap_args(job_dir, fds), "--"]
        if self.as_root:
            assert self.setpriv is not None
            cmd += [
                self.setpriv,
                f"--reuid={SANDBOX_UID}",
                f"--regid={SANDBOX_GID}",
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
                "--no-new-privs",
                "--",
            ]
        cmd += list(argv)
        return cmd

    def start(self, job_dir: Path, script: str, args: Sequence[str] = ()) -> SandboxProcess:
        """Start the entry in the sandbox (see `Launcher.start`)."""
        self.check()
        return super().start(job_dir, script, args)

    def _missing_tools(self) -> str:
        missing = [
            name
            for name, path in (("bwrap", self.bwrap), ("prlimit", self.prlimit))
            if path is None
        ]
        if self.as_root and self.setpriv is None:
            missing.append("setpriv")
        return (
            f"the sandbox needs {', '.join(missing)}, which this machine lacks: install them "
            "(Debian/Ubuntu: apt-get install bubblewrap util-linux), or judge with "
            "--unsafe-no-sandbox on a development machine only"
        )

    def prepare_job_dir(self, job_dir: Path) -> None:
        """Hand the job directory to uid 65534, readable by it alone."""
        if not self.as_root:
            return
        for path in [job_dir, *job_dir.iterdir()]:
            os.chown(path, SANDBOX_UID, SANDBOX_GID)
            os.chmod(path, 0o500 if path.is_dir() else 0o400)

    def job_path(self, job_dir: Path) -> str:
        """Return the job directory's mount point inside the sandbox."""
        return JOB_MOUNT

    def _key(self) -> tuple[object, ...]:
        return (self.bwrap, self.device, self.as_root, sys.executable, self.limits.tmp_mb)

    def check(self) -> None:
        """Start a trivial sandbox once per configuration; raise if that fails."""
        if self.bwrap is None or self.prlimit is None or (self.as_root and not self.setpriv):
            raise SandboxUnavailableError(self._missing_tools())
        key = self._key()
        if key not in self._checked:
            self._checked[key] = self._probe()
        problem = self._checked[key]
        if problem:
            raise SandboxUnavailableError(problem)

    def _probe(self) -> str | None:
        with tempfile.TemporaryDirectory(prefix="studybot-probe-") as tmp:
            job = Path(tmp) / "job"
            job.mkdir()
            (job / "probe.py").write_text("import os, sys\nprint(os.getuid())\n")
            self.prepare_job_dir(job)
            cgroups = Cgroups.create(self.limits)
            argv = [sys.executable, "-I", "-B", f"{JOB_MOUNT}/probe.py"]
            try:
                fds = self.extra_fds()
                cmd = self.command(job, argv, cgroups, fds)
                try:
                    done = subprocess.run(
                        cmd,
                        capture_output=True,
                        pass_fds=fds,
                        env=sandbox_environment(1),
                        timeout=60,
                        check=False,
                    )
                finally:
                    for fd in fds:
                        os.close(fd)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"the sandbox could not start: {exc}"
            finally:
                cgroups.remove()
        if done.returncode != 0 or done.stdout.strip() != str(SANDBOX_UID).encode():
            lines = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
            why = lines[-1] if lines else f"exit status {done.returncode}"
            return (
                f"bubblewrap could not start a sandbox here ({why}); it needs root or "
                "unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
            )
        return None

    def describe(self) -> str:
        """Render the isolation, e.g. for `RunResult.sandbox`."""
        version = _bwrap_version(self.bwrap)
        parts = [
            f"bubblewrap {version}: mount, pid, network, ipc and uts namespaces",
            f"uid {SANDBOX_UID} without capabilities"
            + (" (setpriv)" if self.as_root else " (user namespace)"),
            "seccomp filter" if self.seccomp is not None else "no seccomp filter (unknown arch)",
            Cgroups(self._cgroup_preview(), self.limits).describe(),
            "rlimits: " + self.limits.describe(address_space=self.device == "cpu"),
            "read-only Python, private /tmp, no host environment",
        ]
        return "; ".join(parts)

    def _cgroup_preview(self) -> dict[str, Path]:
        probe = Cgroups.create(self.limits)
        dirs = dict(probe.dirs)
        probe.remove()
        return dirs


@functools.cache
def _bwrap_version(path: str | None) -> str:
    if path is None:
        return "missing"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.decode().strip().removeprefix("bubblewrap ") or "unknown"


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


class UnsafeLauncher(Launcher):
    """A plain subprocess with rlimits and a cleared environment: for development only."""

    unsafe = True

    def describe(self) -> str:
        """Say loudly that nothing isolates the code."""
        return (
            "NONE: --unsafe-no-sandbox (development only): the submission ran as this user "
            "with the host's file system and network; only rlimits and a wall clock applied"
        )

    def job_path(self, job_dir: Path) -> str:
        """Return the job directory's real path."""
        return str(job_dir)

    def command(
        self, job_dir: Path, argv: Sequence[str], cgroups: Cgroups, fds: Sequence[int]
    ) -> list[str]:
        """Return sh (join cgroups) -> prlimit -> python."""
        prlimit = _which("prlimit")
        cmd = ["/bin/sh", "-c", _JOIN_CGROUPS, "sandbox-launch", *cgroups.procs_files, "--"]
        if prlimit is not None:
            cmd += [prlimit, *_prlimit_args(self.limits, address_space=self.device == "cpu")]
            cmd.append("--")
        return cmd + list(argv)


def make_launcher(
    limits: Limits, *, device: str = "cpu", threads: int = 1, unsafe: bool = False
) -> Launcher:
    """Return the launcher for this machine: bubblewrap, or the unsafe one when asked."""
    if unsafe:
        return UnsafeLauncher(limits, device, threads)
    return BubblewrapLauncher(limits, device, threads)


@contextlib.contextmanager
def job_directory() -> Iterator[Path]:
    """Yield a fresh private directory for one sandboxed process, removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="studybot-job-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
