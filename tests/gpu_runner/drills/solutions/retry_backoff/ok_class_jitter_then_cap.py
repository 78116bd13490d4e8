"""Correct: a class as the decorator factory, the jitter added before the cap."""

import functools
import random
import time


class retry:
    """A class-based decorator with jitter-then-cap and a while loop."""

    def __init__(
        self, max_retries, base_delay, max_delay, jitter, retry_on=(Exception,), sleep=time.sleep
    ):
        self.args = (max_retries, base_delay, max_delay, jitter, retry_on, sleep)

    def __call__(self, fn):
        max_retries, base, cap, jitter, retry_on, sleep = self.args

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            attempt = 0
            while True:
                try:
                    return fn(*a, **kw)
                except retry_on:
                    if attempt >= max_retries:
                        raise
                    sleep(min(cap, base * (2**attempt) + random.random() * jitter))
                    attempt += 1

        return wrapper


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
