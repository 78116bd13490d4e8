"""Mistake: linear backoff: base_delay * (attempt + 1)."""

# expect: delay before retry \d+ is

import functools
import random
import time


def retry(max_retries, base_delay, max_delay, jitter, retry_on=(Exception,), sleep=time.sleep):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            for attempt in range(max_retries + 1):
                try:
                    return fn(*args, **kwargs)
                except retry_on:
                    if attempt == max_retries:
                        raise
                    sleep(min(max_delay, base_delay * (attempt + 1)) + random.uniform(0, jitter))

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
