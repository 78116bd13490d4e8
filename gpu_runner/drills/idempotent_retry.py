"""Drill `idempotent_retry`: retries of an LLM API call made safe with an idempotency key."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, python_rng, standalone_source

SIGNATURE = """\
def call_with_retry(
    send: Callable[[str, str], tuple[int, str]],
    request: str,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> str: ...
def handle(
    store: dict[str, str], key: str, request: str, process: Callable[[str], str]
) -> str: ..."""

DOCSTRING = """\
Make a retried LLM API call run at most once on the server.

Client, `call_with_retry`: make one idempotency key for this logical request
(a fresh UUID, say) and send every attempt with it: `send(request, key)` returns
(status, body) or raises ConnectionError when the response was lost (the server
may have done the work). Return the body of the first 200. Retry on a 5xx or a
ConnectionError, up to max_attempts attempts in all, calling sleep(seconds > 0)
between attempts (backoff); raise an exception when they run out. A 4xx is
final: raise at once.

Server, `handle`: `store` stands for Redis (key -> stored result). If the key is
there, return the stored result without processing; otherwise result =
process(request), store it under the key, return it.

The file also holds `run_calls`, which the judge calls: it wires your client
to a scripted flaky server that uses your `handle`. The judge runs its own copy
of it, so you may leave it out; changes to it do not count. Judged
per call on the result, the attempts, how often the work was done (at most
once), one key per call, and different keys for different calls (even of the
same request text)."""

TEMPLATE = '''\
"""Drill idempotent_retry: write `call_with_retry` and `handle`; the judge calls `run_calls`."""

import uuid
from collections.abc import Callable


def call_with_retry(
    send: Callable[[str, str], tuple[int, str]],
    request: str,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> str:
    """One key for all attempts; retry 5xx and ConnectionError; return the first 200's body."""
    raise NotImplementedError("call_with_retry is not implemented yet")


def handle(
    store: dict[str, str], key: str, request: str, process: Callable[[str], str]
) -> str:
    """Return the stored result for `key`, or process the request once and store it."""
    raise NotImplementedError


'''


def call_with_retry(
    send: Callable[[str, str], tuple[int, str]],
    request: str,
    max_attempts: int,
    sleep: Callable[[float], None],
) -> str:
    """One UUID per logical request; exponential backoff between attempts."""
    key = str(uuid.uuid4())
    for attempt in range(max_attempts):
        if attempt:
            sleep(0.1 * 2 ** (attempt - 1))
        try:
            status, body = send(request, key)
        except ConnectionError:
            continue
        if status == 200:
            return body
        if 400 <= status < 500:
            raise ValueError(f"request refused ({status}): {body}")
    raise TimeoutError(f"no answer after {max_attempts} attempts")


def handle(store: dict[str, str], key: str, request: str, process: Callable[[str], str]) -> str:
    """Return the stored result for the key, or process once and store it."""
    if key in store:
        return store[key]
    result = process(request)
    store[key] = result
    return result


def run_calls(
    scripts: list[list[str]], requests: list[str], max_attempts: int
) -> list[tuple[str, int, int, list[str], list[float]]]:
    """Provided (leave as it is): run each request against a scripted flaky server."""
    store: dict[str, str] = {}
    done: list[str] = []
    report = []
    for script, request in zip(scripts, requests, strict=True):
        keys: list[str] = []
        sleeps: list[float] = []
        before = len(done)

        def process(text: str) -> str:
            done.append(text)
            return f"completion #{len(done)} of {text}"

        def send(
            text: str, key: str, keys: list[str] = keys, script: list[str] = script
        ) -> tuple[int, str]:
            keys.append(str(key))
            kind = script[len(keys) - 1] if len(keys) <= len(script) else "ok"
            if kind in ("500", "400"):
                return int(kind), "error"
            body = handle(store, str(key), text, process)
            if kind == "lost":
                raise ConnectionError("the response was lost")
            return 200, body

        try:
            result = "ok:" + call_with_retry(send, request, max_attempts, sleeps.append)
        except NotImplementedError:
            raise
        except Exception:
            result = "raised"
        report.append((result, len(keys), len(done) - before, keys, [float(s) for s in sleeps]))
    return report


TEMPLATE += standalone_source(run_calls, imports=())


class IdempotentRetryDrill(Drill):
    """Idempotent retries judged per call: result, attempts, work done once, keys."""

    id = "idempotent_retry"
    title = "Retry with an idempotency key"
    entry = "run_calls"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(run_calls)
    reference_helpers = (call_with_retry, handle)
    provided = (run_calls,)
    provided_imports = ("from collections.abc import Callable",)
    reference_imports = ("import uuid", "from collections.abc import Callable")
    bank_questions = (501,)
    public_cases = (
        Case("lost_then_ok", {"scripts": [["lost", "ok"], ["500", "ok"]]}),
        Case("same_text_twice", {"scripts": [["ok"], ["ok"]], "same_text": True}),
    )
    secret_cases = (
        Case("refused", {"scripts": [["400"], ["500", "400"]]}),
        Case("runs_out", {"scripts": [["500", "lost", "500", "lost", "500"]], "attempts": 3}),
        Case("lost_twice", {"scripts": [["lost", "lost", "ok"], ["lost", "500", "ok"]]}),
        Case("random", {"scripts": "random", "calls": 6, "same_text": True}),
    )
    bench_cases = (Case("bench_200_calls", {"scripts": "random", "calls": 200}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return per-call failure scripts and request texts (some identical)."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        scripts = p["scripts"]
        if scripts == "random":
            kinds = ("ok", "500", "lost", "lost", "500", "400")
            scripts = [
                [rng.choice(kinds) for _ in range(rng.randint(0, 4))] + ["ok"]
                for _ in range(int(p["calls"]))
            ]
        scripts = [list(s) for s in scripts]
        text = f"prompt-{rng.randrange(1 << 20)}"
        requests = [
            text if p.get("same_text") else f"{text}-{i}-{rng.randrange(100)}"
            for i in range(len(scripts))
        ]
        return FunctionCall((scripts, requests, int(p.get("attempts", 5))), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Judge each call's result and attempts, work done once, and the keys."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, list)
        scripts = inputs.args[0]
        if not isinstance(got, list) or len(got) != len(expected):
            return "run_calls should return one report per call: leave it as it is"
        seen: dict[str, int] = {}
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            result, attempts, work, keys, sleeps = g
            e_result, e_attempts, e_work, _, _ = e
            call = f"call {i} (server script {scripts[i]})"
            if work > 1:
                return (
                    f"{call}: the server did the work {work} times; an idempotency key "
                    "must make it once"
                )
            if result != e_result or attempts != e_attempts or work != e_work:
                return (
                    f"{call}: ended {result!r} after {attempts} attempts with the work done "
                    f"{work} times; expected {e_result!r} after {e_attempts} attempts, work done "
                    f"{e_work} times"
                )
            if len(set(keys)) > 1:
                return f"{call}: the attempts used {len(set(keys))} keys; use one key for all"
            for key in set(keys):
                if key in seen:
                    return (
                        f"{call} reused the key of call {seen[key]}: each logical request "
                        "needs a fresh key, even for the same text"
                    )
                seen[key] = i
            if len(sleeps) != max(attempts - 1, 0) or any(s <= 0 for s in sleeps):
                return (
                    f"{call}: slept {sleeps} between {attempts} attempts; expected one "
                    "positive sleep between attempts"
                )
        return None


DRILL = IdempotentRetryDrill()
