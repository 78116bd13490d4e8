"""The program the sandbox runs: load the submission, then answer the judge's commands.

Usage (inside the sandbox): `python -I -B -u sandbox_entry.py JOB_DIR CHANNEL_FD`.

JOB_DIR holds `job.json`, `submission.py` and copies of `calling.py`, `wire.py` and `timing.py`;
nothing else of StudyBot is visible. Commands arrive on stdin and replies leave on CHANNEL_FD,
both as length-prefixed `wire` frames; whatever the submission prints goes to stdout/stderr,
which the judge caps and keeps apart.

Nothing here is trusted by the judge: the submission runs in this process and could patch any
of it. The judge therefore recomputes every expected output itself, compares inputs after the
call with its own pristine copies, picks the re-checked timed calls only after timing ends, and
checks the reported times against the wall clock it measures from outside.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import resource
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

_now_ns = time.perf_counter_ns
_ENTRY_PID = os.getpid()
_in_forked_child = False


def _mark_child() -> None:
    global _in_forked_child
    _in_forked_child = True


# A child forked by the submission shares the channel and stdin; it must never speak or listen.
os.register_at_fork(after_in_child=_mark_child)


class Channel:
    """Replies to the judge, one frame per write so concurrent writers cannot split a frame."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, obj: object) -> None:
        """Encode and send one reply; an unencodable result is reported as an error instead."""
        import wire

        if _in_forked_child or os.getpid() != _ENTRY_PID:
            os._exit(0)
        try:
            payload = wire.encode(obj)
        except wire.WireError as exc:
            payload = wire.encode(_failure(obj, "unsendable", str(exc)))
        frame = struct.pack(">I", len(payload)) + payload
        view = memoryview(frame)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]


def _failure(obj: object, kind: str, message: str) -> dict[str, Any]:
    reply: dict[str, Any] = {"kind": "error", "stage": kind, "error": _plain_error(message)}
    if isinstance(obj, dict) and "i" in obj:
        reply["i"] = obj["i"]
    return reply


# The line after which the judge appends its own copy of what a drill's template provides.
PROVIDED_MARK = "# --- provided by the judge (its own copy: edits above do not count) ---"


def _plain_error(message: str) -> dict[str, Any]:
    return {"type": "UnsendableResult", "message": message, "where": []}


def _provided_from(submission_path: str) -> int | None:
    """Return the line where the judge's copy of a provided harness starts, if the file has one."""
    try:
        with open(submission_path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if line.rstrip("\n") == PROVIDED_MARK:
                    return number
    except OSError:
        pass
    return None


def describe_exception(exc: BaseException, submission_path: str) -> dict[str, Any]:
    """Return an exception's type, message and the submission's own frames (not the judge's)."""
    frames = traceback.extract_tb(exc.__traceback__)
    provided_from = _provided_from(submission_path)
    where = []
    for frame in frames:
        if frame.filename == submission_path:
            if provided_from is not None and frame.lineno and frame.lineno > provided_from:
                where.append(f"in the judge's `{frame.name}` (provided; not your file)"[:300])
                continue
            line = (frame.line or "").strip()
            where.append(f"line {frame.lineno}, in {frame.name}: {line}"[:300])
    try:
        message = str(exc)
    except Exception:
        message = "<unprintable message>"
    return {"type": type(exc).__name__, "message": message[:2000], "where": where[-6:]}


def _read_command(stream: IO[bytes]) -> bytes:
    import wire

    length = wire.read_frame_length(stream)
    data: bytes | None = None if length is None else wire.read_exact(stream, length)
    if data is None:  # the judge is gone
        os._exit(0)
    return data


def _apply_rlimits(values: dict[str, int]) -> None:
    for name, value in values.items():
        which = getattr(resource, name, None)
        if which is None:
            continue
        soft, hard = resource.getrlimit(which)
        target = value if hard == resource.RLIM_INFINITY else min(value, hard)
        # Lower the hard limit too, so the submission cannot raise it again. CPU time keeps a
        # second of headroom: SIGXCPU at the soft limit names the cause, SIGKILL ends it.
        ceiling = target + 1 if name == "RLIMIT_CPU" else target
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        resource.setrlimit(which, (target, ceiling))


class ForbiddenLibraryCall(Exception):
    """Raised by a guard when the submission calls what would do the drill for it."""


# Names of the forbidden calls the submission made (kept even if it caught the exception).
_forbidden_used: list[str] = []


def _forbidden_message(name: str) -> str:
    return (
        f"the submission called {name}, which would do this drill's work for you; write it "
        "from simpler operations"
    )


def _guard(spec: list[Any]) -> None:
    """Replace one library callable by a guard that records the call and refuses it."""
    name, keyword, position = spec[0], spec[1], spec[2]
    parts = str(name).split(".")
    owner: Any = None
    cut = 0
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
            break
        except ImportError:
            continue
    if owner is None:
        return
    try:
        for attr in parts[cut:-1]:
            owner = getattr(owner, attr)
        original = getattr(owner, parts[-1])
    except AttributeError:
        return  # not in this version of the library

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if keyword is not None:
            values = [kwargs.get(keyword)]
            if position is not None and len(args) > position:
                values.append(args[position])
            if all(v in (None, 0, 0.0, False) for v in values):
                return original(*args, **kwargs)
        shown = name + (f" with {keyword}" if keyword else "")
        _forbidden_used.append(shown)
        raise ForbiddenLibraryCall(_forbidden_message(shown))

    try:
        setattr(owner, parts[-1], guarded)
    except (AttributeError, TypeError):
        pass  # a read-only extension type: the check before the run covers it


class NoKernelLaunch(Exception):
    """Raised when a kernel drill's launcher returned without launching a kernel."""


# Triton kernel launches so far (counted by a wrapper around `kernel[grid]`).
_launches = [0]


def _count_triton_launches() -> None:
    """Wrap Triton's `kernel[grid]` so every launch, native or interpreted, is counted."""
    from triton.runtime.jit import KernelInterface

    original = KernelInterface.__getitem__

    def getitem(self: Any, grid: Any) -> Any:
        launch = original(self, grid)

        def counted(*args: Any, **kwargs: Any) -> Any:
            _launches[0] += 1
            return launch(*args, **kwargs)

        return counted

    KernelInterface.__getitem__ = getitem  # type: ignore[method-assign]


def _raise_if_forbidden_used() -> None:
    if _forbidden_used:
        raise ForbiddenLibraryCall(_forbidden_message(_forbidden_used[0]))


def _to_device(value: Any, device: str) -> Any:
    if device == "cpu":
        return value
    import calling
    import torch

    def move(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v.to(device)
        if isinstance(v, tuple):
            return tuple(move(x) for x in v)
        if isinstance(v, list):
            return [move(x) for x in v]
        if isinstance(v, dict):
            return {k: move(x) for k, x in v.items()}
        return v

    if isinstance(value, calling.FunctionCall):
        return calling.FunctionCall(move(value.args), move(value.kwargs))
    if isinstance(value, calling.Trace):
        return calling.Trace(move(value.init_args), move(value.init_kwargs), value.ops)
    return move(value)


def _synchronize(device: str) -> None:
    if device == "cuda":
        import torch

        torch.cuda.synchronize()


class Entry:
    """The loaded submission and the state of the judge's conversation with it."""

    def __init__(self, job_dir: str, channel: Channel, control: IO[bytes]) -> None:
        with open(os.path.join(job_dir, "job.json")) as f:
            self.config: dict[str, Any] = json.load(f)
        self.job_dir = job_dir
        self.channel = channel
        self.control = control
        self.device: str = self.config.get("device", "cpu")
        self.kind: str = self.config.get("kind", "function")
        self.submission_path = os.path.join(job_dir, "submission.py")
        self.entry_obj: Callable[..., Any] | None = None
        self.kernel: str | None = self.config.get("kernel")
        self.module: Any = None
        # Functions of the loaded module the judge may call by name (an imported reference's).
        self.exports: list[str] = list(self.config.get("exports", []))
        self.timed_items: list[Any] = []
        self.timed_outputs: list[Any] = []

    def report(self, stage: str, exc: BaseException, **extra: Any) -> None:
        """Send an exception raised by the submission."""
        self.channel.send(
            {
                "kind": "error",
                "stage": stage,
                "error": describe_exception(exc, self.submission_path),
                **extra,
            }
        )

    def load(self) -> bool:
        """Import the submission and find its entry; report and return False on failure."""
        if self.config.get("needs_torch"):
            import torch

            torch.set_num_threads(int(self.config.get("threads", 1)))
            if self.device == "cuda":
                torch.cuda.init()  # type: ignore[no-untyped-call]
        if self.kernel == "triton":
            if self.config.get("interpret"):
                # Read by Triton when a kernel is decorated: set before the submission imports.
                os.environ["TRITON_INTERPRET"] = "1"
            try:
                _count_triton_launches()
            except ImportError as exc:
                self.report("import", exc)
                return False
        for guard in self.config.get("guarded", []):
            _guard(guard)
        spec = importlib.util.spec_from_file_location("submission", self.submission_path)
        if spec is None or spec.loader is None:
            self.channel.send(_failure(None, "import", "the submission file cannot be loaded"))
            return False
        module = importlib.util.module_from_spec(spec)
        sys.modules["submission"] = module
        try:
            spec.loader.exec_module(module)
            _raise_if_forbidden_used()
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are the member's too
            failure: BaseException = exc
            if _forbidden_used:
                failure = ForbiddenLibraryCall(_forbidden_message(_forbidden_used[0]))
            self.report("import", failure)
            return False
        name = self.config["entry"]
        entry = getattr(module, name, None)
        if entry is None or not callable(entry):
            what = "class" if self.kind == "class" else "function"
            self.channel.send(
                {
                    "kind": "error",
                    "stage": "entry",
                    "error": {
                        "type": "MissingEntry",
                        "message": f"submission.py must define the {what} `{name}` at module "
                        "level" + ("" if entry is None else f", not a {type(entry).__name__}"),
                        "where": [],
                    },
                }
            )
            return False
        self.entry_obj = entry
        self.module = module
        self.channel.send({"kind": "ready", "pid": os.getpid()})
        return True

    def call(self, inputs: Any) -> Any:
        """Run the entry on one call's inputs (or replay one trace)."""
        import calling

        assert self.entry_obj is not None
        before = _launches[0]
        try:
            output = calling.call_entry(self.entry_obj, inputs)
        except BaseException:
            _raise_if_forbidden_used()
            raise
        # A guard's exception the submission caught still counts.
        _raise_if_forbidden_used()
        if self.kernel == "triton" and _launches[0] == before:
            raise NoKernelLaunch(
                "the launcher returned without launching a Triton kernel; this drill judges "
                "your @triton.jit kernel, so launch it (kernel[grid](...)) on every call"
            )
        return output

    def serve(self) -> None:
        """Answer commands until told to exit."""
        import wire

        pool: list[Any] = []
        decode_s = 0.0
        while True:
            # The collector stays paused while a command is decoded and served: a collection
            # over a big pool of inputs is not the submission's time, nor the judge's.
            gc.disable()
            data = _read_command(self.control)
            decode_started = _now_ns()
            command = wire.decode(data)
            del data  # the decoded copy is all that is needed; halve the peak memory
            items = [_to_device(x, self.device) for x in command.get("inputs", [])]
            _synchronize(self.device)
            cmd = command.get("cmd")
            if cmd == "pool":
                # The timing command follows at once; keep the collector paused until it ends.
                pool, decode_s = items, (_now_ns() - decode_started) / 1e9
                continue
            if cmd == "cases":
                self.run_cases(items)
            elif cmd == "warmup":
                self.warm_up(items)
            elif cmd == "time":
                self.time(pool, command, decode_s)
                pool = []
            elif cmd == "sample":
                self.sample(command["indices"])
            elif cmd == "invoke":
                self.invoke(str(command.get("fn")), items)
            elif cmd == "exit":
                return
            del command, items
            gc.enable()

    def run_cases(self, items: list[Any]) -> None:
        """Run each case and send its output and its inputs as they are after the call."""
        for i, inputs in enumerate(items):
            try:
                output = self.call(inputs)
                _synchronize(self.device)
            except BaseException as exc:
                self.report("case", exc, i=i)
                return
            after = inputs if self.kind == "function" else None
            self.channel.send({"kind": "case", "i": i, "output": output, "after": after})

    def warm_up(self, items: list[Any]) -> None:
        """Run the warm-up calls, reporting how long each took."""
        per_call: list[float] = []
        for inputs in items:
            start = _now_ns()
            try:
                self.call(inputs)
                _synchronize(self.device)
            except BaseException as exc:
                self.report("warmup", exc)
                return
            per_call.append((_now_ns() - start) / 1e9)
        self.channel.send({"kind": "warmed", "per_call_s": per_call})

    def time(self, items: list[Any], command: dict[str, Any], decode_s: float) -> None:
        """Time the entry on fresh inputs and keep every output for the judge's re-check."""
        import timing

        try:
            if self.device == "cuda":
                measured = timing.time_cuda_events(
                    self.call, items, budget_s=float(command.get("budget_s", 10.0))
                )
            else:
                measured = timing.time_cpu_blocks(
                    self.call,
                    items,
                    int(command.get("calls_per_block", 1)),
                    budget_s=float(command.get("budget_s", 1.0)),
                    min_blocks=int(command.get("min_blocks", 1)),
                )
        except BaseException as exc:
            self.report("timing", exc)
            return
        self.timed_items = items
        self.timed_outputs = measured.outputs
        self.channel.send(
            {
                "kind": "timed",
                "block_s": measured.block_s,
                "calls_per_block": measured.calls_per_block,
                "stopped_by": measured.stopped_by,
                "decode_s": decode_s,
            }
        )

    def invoke(self, name: str, items: list[Any]) -> None:
        """Call one exported function of the module on one call's inputs and send its result."""
        import calling

        if name not in self.exports or len(items) != 1:
            self.channel.send(_failure(None, "invoke", f"{name!r} cannot be called here"))
            return
        try:
            output = calling.call_entry(getattr(self.module, name), items[0])
            _synchronize(self.device)
        except BaseException as exc:
            self.report("invoke", exc)
            return
        self.channel.send({"kind": "invoked", "output": output})

    def sample(self, indices: list[int]) -> None:
        """Send the outputs of the timed calls the judge picked, with digests of their inputs.

        The digest of the inputs as they are after the call stands in for the inputs
        themselves: the timed inputs are big, and the judge holds the pristine copies.
        """
        import wire

        picked = []
        for i in indices:
            if not 0 <= i < len(self.timed_outputs):
                continue
            item: dict[str, Any] = {"i": i, "output": self.timed_outputs[i]}
            if self.kind == "function":
                item["after_digest"] = wire.digest(self.timed_items[i])
            picked.append(item)
        self.channel.send({"kind": "samples", "items": picked})


def main(argv: list[str]) -> int:
    """Run the entry: argv is [script, job_dir, channel_fd]."""
    job_dir, channel_fd = argv[1], int(argv[2])
    config_path = os.path.join(job_dir, "job.json")
    with open(config_path) as f:
        _apply_rlimits(json.load(f).get("rlimits", {}))
    sys.path.insert(0, job_dir)
    # The submission reads a closed stdin; the judge's commands come through a private copy.
    control = os.fdopen(os.dup(0), "rb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    channel = Channel(channel_fd)
    import calling  # noqa: F401  (imported before the submission can shadow it)
    import timing  # noqa: F401
    import wire  # noqa: F401

    entry = Entry(job_dir, channel, control)
    try:
        if entry.load():
            entry.serve()
    except BaseException as exc:
        if _in_forked_child or os.getpid() != _ENTRY_PID:
            os._exit(0)
        try:
            channel.send(
                {
                    "kind": "error",
                    "stage": "entry",
                    "error": describe_exception(exc, entry.submission_path),
                }
            )
        except BaseException:
            pass
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
