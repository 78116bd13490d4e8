"""Problems imported from GPU MODE style folders (gpu-mode/reference-kernels), as drills.

A folder holds a `task.yml` naming its files, tests and benchmarks; a `reference.py` with
`generate_input(**test)`, `ref_kernel(data)` and `check_implementation(data, output)`; and a
submission template defining `custom_kernel(data)`. `read_problem_folder` turns it into an
`ImportedProblem` (plain data that travels inside a `RunJob`); `ImportedDrill` judges it.

The imported reference is code from outside, so it never runs in the judge's process: the judge
starts it in a sandboxed process of its own (the "host") and asks it, call by call, for inputs
and for verdicts on the submission's outputs. The submission runs in another sandbox, without
`reference.py`.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill
from gpu_runner.protocol import (
    MAX_PROBLEM_FILE_BYTES,
    MAX_PROBLEM_FILES,
    PROBLEM_FILE_PATTERN,
    ImportedProblem,
)

REFERENCE_FILE = "reference.py"
REFERENCE_FUNCTIONS = ("generate_input", "ref_kernel", "check_implementation")
ENTRY = "custom_kernel"
SUBMISSION_MARK = "@SUBMISSION@"
# The judge's own files in the sandbox's job directory: a problem file may not shadow them.
RESERVED_FILES = frozenset({"calling.py", "wire.py", "timing.py", "sandbox_entry.py"})
TEMPLATE_NAMES = ("submission.py", "template.py")


class ProblemFormatError(ValueError):
    """A problem folder that does not follow the format; the message says what to fix."""


def _read(path: Path, what: str) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ProblemFormatError(f"{what} cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_PROBLEM_FILE_BYTES:
        raise ProblemFormatError(f"{what} is over {MAX_PROBLEM_FILE_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ProblemFormatError(f"{what} is not UTF-8 text") from None


def _defines(source: str, name: str, what: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ProblemFormatError(f"{what} line {exc.lineno}: SyntaxError: {exc.msg}") from None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return True
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return True
    return False


def _cases(raw: object, key: str) -> tuple[dict[str, int | float | str | bool], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
        raise ProblemFormatError(f"task.yml: `{key}` must be a list of mappings")
    out = []
    for item in raw:
        clean: dict[str, int | float | str | bool] = {}
        for k, v in item.items():
            if not isinstance(k, str) or not isinstance(v, int | float | str | bool):
                raise ProblemFormatError(
                    f"task.yml: `{key}` entries hold plain values (got {k!r}: {v!r})"
                )
            clean[k] = v
        out.append(clean)
    return tuple(out)


def problem_name(folder: Path, declared: object) -> str:
    """Return the drill id for a problem: its declared name or its folder's, made an id."""
    base = declared if isinstance(declared, str) and declared.strip() else folder.name
    slug = re.sub(r"[^a-z0-9]+", "_", base.lower()).strip("_")
    return f"gpumode_{slug}"[:64]


def read_problem_folder(path: str | Path, *, name: str | None = None) -> ImportedProblem:
    """Read a problem folder in the reference-kernels format; raise ProblemFormatError."""
    import yaml

    folder = Path(path)
    if not (folder / "task.yml").is_file():
        raise ProblemFormatError(f"{folder} has no task.yml")
    try:
        task = yaml.safe_load(_read(folder / "task.yml", "task.yml"))
    except yaml.YAMLError as exc:
        raise ProblemFormatError(f"task.yml is not valid YAML: {exc}") from None
    if not isinstance(task, dict):
        raise ProblemFormatError("task.yml must be a mapping")
    if task.get("lang", "py") != "py":
        raise ProblemFormatError(f"only Python problems are imported (lang: {task.get('lang')})")
    main = str((task.get("config") or {}).get("main", "eval.py"))
    files: dict[str, str] = {}
    for entry in task.get("files") or []:
        if not isinstance(entry, dict) or "name" not in entry or "source" not in entry:
            raise ProblemFormatError("task.yml: every `files` entry names `name` and `source`")
        file_name, source = str(entry["name"]), str(entry["source"])
        # The submission arrives with each job; the problem's own harness is replaced by ours.
        if source == SUBMISSION_MARK or file_name == main:
            continue
        if not re.match(PROBLEM_FILE_PATTERN, file_name) or file_name in RESERVED_FILES:
            raise ProblemFormatError(f"task.yml: {file_name!r} cannot be a problem file name")
        files[file_name] = _read((folder / source).resolve(), f"{file_name} ({source})")
    if REFERENCE_FILE not in files and (folder / REFERENCE_FILE).is_file():
        files[REFERENCE_FILE] = _read(folder / REFERENCE_FILE, REFERENCE_FILE)
    if REFERENCE_FILE not in files:
        raise ProblemFormatError("the problem has no reference.py")
    if len(files) > MAX_PROBLEM_FILES:
        raise ProblemFormatError(f"a problem may have at most {MAX_PROBLEM_FILES} files")
    missing = [f for f in REFERENCE_FUNCTIONS if not _defines(files[REFERENCE_FILE], f, "ref")]
    if missing:
        raise ProblemFormatError(f"reference.py does not define {', '.join(missing)}")
    template = _template(folder, task)
    if not _defines(template, ENTRY, "the template"):
        raise ProblemFormatError(f"the submission template does not define `{ENTRY}`")
    tests = _cases(task.get("tests"), "tests")
    if not tests:
        raise ProblemFormatError("task.yml lists no tests")
    description = str(task.get("description") or "").strip()
    title = description.splitlines()[0][:200] if description else folder.name
    return ImportedProblem(
        name=name or problem_name(folder, task.get("name")),
        title=title,
        description=description,
        files=files,
        template=template,
        tests=tests,
        benchmarks=_cases(task.get("benchmarks"), "benchmarks"),
        device=_device(task),
    )


def _template(folder: Path, task: dict[str, Any]) -> str:
    templates = task.get("templates")
    candidates: list[str] = []
    if isinstance(templates, dict):
        # The Python template first, then any other language's (Triton, CUDA inline ...).
        candidates += [str(v) for k, v in templates.items() if str(k).lower() == "python"]
        candidates += [str(v) for k, v in templates.items() if str(k).lower() != "python"]
    candidates += list(TEMPLATE_NAMES)
    for candidate in candidates:
        if (folder / candidate).is_file():
            return _read(folder / candidate, candidate)
    raise ProblemFormatError("the problem has no submission template (submission.py)")


def _device(task: dict[str, Any]) -> str:
    device = task.get("device")
    if isinstance(device, str) and device.strip():
        return device.strip().lower()
    gpus = task.get("gpus")
    if isinstance(gpus, list) and gpus:
        return "cuda"
    return "cuda"


class ImportedDrill(Drill):
    """A drill made from an imported problem; its reference answers through a sandboxed host.

    `host` is set by the judge for the duration of one judging: a callable that runs one of
    the reference's functions in the reference's sandbox and returns what it returned.
    """

    entry = ENTRY
    kind = "function"
    needs_torch = True
    allows_input_mutation = True  # GPU MODE kernels often write into an output in `data`
    reference_entry = "ref_kernel"
    secret_cases: tuple[Case, ...] = ()

    def __init__(self, problem: ImportedProblem) -> None:
        self.problem = problem
        self.id = problem.name
        self.title = problem.title
        self.signature = f"def {ENTRY}(data: input_t) -> output_t"
        self.docstring = problem.description or problem.title
        self.template = problem.template
        self.public_cases = tuple(
            Case(f"test_{i + 1}", dict(params)) for i, params in enumerate(problem.tests)
        )
        self.bench_cases = tuple(
            Case(f"benchmark_{i + 1}", dict(params)) for i, params in enumerate(problem.benchmarks)
        )
        self.host: Callable[[str, tuple[Any, ...], dict[str, Any]], Any] | None = None

    @property
    def device_kind(self) -> str:
        """Return the device kind (queue) the problem names."""
        return self.problem.device

    @property
    def reference_source(self) -> str:
        """Return the imported reference module (its `ref_kernel` is timed)."""
        return self.problem.files[REFERENCE_FILE]

    def files_for(self, *, reference: bool) -> dict[str, str]:
        """Return the problem files a sandboxed process sees (all but the reference: submission)."""
        return {
            name: text
            for name, text in self.problem.files.items()
            if reference or name != REFERENCE_FILE
        }

    def summary(self) -> dict[str, Any]:
        """Return the public facts of the drill, marked as imported."""
        out = super().summary()
        out["track"] = "imported"
        out["device"] = self.problem.device
        return out

    def _call_host(self, fn: str, *args: Any, **kwargs: Any) -> Any:
        if self.host is None:
            raise RuntimeError("the imported reference is not running")
        return self.host(fn, args, kwargs)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall | Trace:
        """Ask the reference's `generate_input` for fresh data (the case's values, a new seed)."""
        params = dict(case.params)
        if "seed" in params:
            params["seed"] = seed
        return FunctionCall((self._call_host("generate_input", **params),), {})

    def reference(self, inputs: FunctionCall | Trace) -> object:
        """Return nothing: the reference's own `check_implementation` judges each output."""
        return None

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Ask the reference's `check_implementation`; None when it accepts the output."""
        assert isinstance(inputs, FunctionCall)
        verdict = self._call_host("check_implementation", inputs.args[0], got)
        return check_verdict(verdict)


def imports_reference(source: str) -> bool:
    """Return whether a submission imports the problem's reference module."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "reference" for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "reference":
            return True
        if isinstance(node, ast.Constant) and node.value == "reference":
            return True  # __import__("reference") or importlib.import_module("reference")
    return False


def check_verdict(verdict: object) -> str | None:
    """Read what `check_implementation` returned: (ok, message), a bool, or a message."""
    if isinstance(verdict, tuple | list) and len(verdict) == 2 and isinstance(verdict[0], bool):
        ok, message = verdict
        return None if ok else (str(message) or "the reference's check failed")
    if isinstance(verdict, bool):
        return None if verdict else "the reference's check failed"
    if verdict is None or verdict == "":
        return None
    if isinstance(verdict, str):
        return verdict
    return f"the reference's check returned {type(verdict).__name__}, not a verdict"
