"""Drill `retry_backoff`: an exponential-backoff retry decorator with jitter."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import Any

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, python_rng, standalone_source

SIGNATURE = """\
def retry(
    max_retries: int,
    base_delay: float,
    max_delay: float,
    jitter: float,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]"""

DOCSTRING = """\
Return a decorator that retries the decorated function with exponential backoff.

Call the function; if it raises one of `retry_on`, sleep and call it again, up
to `max_retries` retries (max_retries + 1 calls in all); then re-raise the last
exception. Any other exception propagates at once. Before retry i (i = 0 for the
first retry) sleep min(max_delay, base_delay * 2**i) plus a random jitter in
[0, jitter] (capping after adding the jitter is fine too). Sleep through the
`sleep` argument, never time.sleep directly, and never after the last attempt.
The wrapper keeps the wrapped function's name and docstring (functools.wraps).

The file also holds `run_retry`, which the judge calls: it decorates a scripted
flaky function with your `retry` and reports what happened. The judge runs its
own copy of it, so you may leave it out; changes to it do not count.
Judged on the outcome and number of calls, the name kept, and each delay lying
in its bounds (with the jitter visibly random), not on exact delays."""

TEMPLATE = '''\
"""Drill retry_backoff: write `retry` below; the judge calls `run_retry`, which uses it."""

import functools
import random
import time
from collections.abc import Callable
from typing import Any


def retry(
    max_retries: int,
    base_delay: float,
    max_delay: float,
    jitter: float,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry on `retry_on` up to max_retries times, sleeping
    min(max_delay, base_delay * 2**i) + uniform(0, jitter) before retry i."""
    raise NotImplementedError("retry is not implemented yet")


'''


def retry(
    max_retries: int,
    base_delay: float,
    max_delay: float,
    jitter: float,
    retry_on: tuple[type[BaseException], ...] = (Exception,),
    sleep: Callable[[float], None] = time.sleep,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Retry on `retry_on` with capped exponential backoff plus additive jitter."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for attempt in range(max_retries + 1):
                try:
                    return fn(*args, **kwargs)
                except retry_on:
                    if attempt == max_retries:
                        raise
                    sleep(min(max_delay, base_delay * 2**attempt) + random.uniform(0, jitter))
            raise AssertionError("unreachable")

        return wrapper

    return decorate


def run_retry(
    outcomes: list[str], max_retries: int, base_delay: float, max_delay: float, jitter: float
) -> tuple[str, int, list[float], str]:
    """Provided (leave as it is): decorate a scripted flaky call with `retry` and run it."""
    errors = {"ConnectionError": ConnectionError, "TimeoutError": TimeoutError}
    errors["ValueError"] = ValueError
    delays: list[float] = []
    calls: list[str] = []

    transient = (ConnectionError, TimeoutError)

    @retry(max_retries, base_delay, max_delay, jitter, transient, delays.append)
    def call_model(prompt: str) -> str:
        """Ask the model; fails as the script says."""
        calls.append(prompt)
        kind = outcomes[len(calls) - 1] if len(calls) <= len(outcomes) else "ok"
        if kind == "ok":
            return f"answer after {len(calls)} calls"
        raise errors[kind](kind)

    try:
        result = "ok:" + call_model("prompt")
    except NotImplementedError:
        raise
    except Exception as exc:
        result = "raised:" + type(exc).__name__
    return result, len(calls), [float(d) for d in delays], call_model.__name__


TEMPLATE += standalone_source(run_retry, imports=())


class RetryBackoffDrill(Drill):
    """Retry decorator judged on outcomes and delay bounds, not exact delays."""

    id = "retry_backoff"
    title = "Exponential backoff retry decorator"
    entry = "run_retry"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(run_retry)
    reference_helpers = (retry,)
    provided = (run_retry,)
    reference_imports = (
        "import functools",
        "import random",
        "import time",
        "from collections.abc import Callable",
        "from typing import Any",
    )
    bank_questions = (483,)
    public_cases = (
        Case("succeeds_on_third", {"script": "ff", "retries": 5}),
        Case("gives_up", {"script": "ffffffff", "retries": 3}),
    )
    secret_cases = (
        Case("not_retryable", {"script": "fv", "retries": 5}),
        Case("first_try", {"script": "", "retries": 3}),
        Case("no_retries", {"script": "f", "retries": 0}),
        Case("capped", {"script": "ffffffffff", "retries": 12, "cap": 1.5}),
        Case("many", {"script": "ffffff", "retries": 8}),
        Case("random_script", {"script": "random", "retries": 6}),
    )
    bench_cases = (Case("bench_30_retries", {"script": "f" * 30, "retries": 30, "cap": 2.0}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a failure script (f: a retryable error, v: ValueError) and seeded delays."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        script = str(p["script"])
        if script == "random":
            script = "".join(rng.choice("ff") for _ in range(rng.randint(2, 9)))
        outcomes = [
            "ValueError" if ch == "v" else rng.choice(("ConnectionError", "TimeoutError"))
            for ch in script
        ]
        base = rng.choice((0.01, 0.05, 0.1))
        cap = float(p.get("cap", 1000.0))
        jitter = base * rng.choice((0.5, 1.0))
        return FunctionCall((outcomes, int(p["retries"]), base, cap, jitter), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Outcome, calls and name exactly; each delay within its bounds; jitter random."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, tuple)
        if not isinstance(got, tuple | list) or len(got) != 4:
            return "run_retry should return (result, calls, delays, name): leave it as it is"
        result, calls, delays, name = got
        e_result, e_calls, _, e_name = expected
        outcomes, _, base, cap, jitter = inputs.args
        if result != e_result or calls != e_calls:
            return (
                f"with failures {outcomes}, the call ended {result!r} after {calls} calls; "
                f"expected {e_result!r} after {e_calls}"
            )
        if name != e_name:
            return (
                f"the decorated function is called {name!r}, expected {e_name!r} (functools.wraps)"
            )
        if not isinstance(delays, list) or len(delays) != calls - 1:
            n = len(delays) if isinstance(delays, list) else delays
            return f"slept {n} times for {calls} calls; expected one sleep before each retry"
        offsets = []
        for i, d in enumerate(delays):
            floor = min(cap, base * 2**i)
            if not floor - 1e-9 <= d <= floor + jitter + 1e-9:
                return (
                    f"delay before retry {i} is {d:.6g}s; expected min(max_delay, base_delay * "
                    f"2**{i}) = {floor:.6g}s plus a jitter in [0, {jitter:g}]"
                )
            if floor + jitter < cap:
                offsets.append(d - floor)
        if len(offsets) >= 3 and max(offsets) - min(offsets) < 1e-12:
            return (
                f"delays {[round(d, 6) for d in delays]} carry the same jitter every time: add "
                "a random jitter so clients that failed together do not retry together"
            )
        return None


DRILL = RetryBackoffDrill()
