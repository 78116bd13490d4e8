"""Mistake: retries a 4xx like a 5xx."""

# expect: ended .* expected 'raised' after 1 attempts

import uuid


def call_with_retry(send, request, max_attempts, sleep):
    key = uuid.uuid4().hex
    for attempt in range(max_attempts):
        if attempt:
            sleep(0.05 * 2**attempt)
        try:
            status, body = send(request, key)
        except ConnectionError:
            continue
        if status == 200:
            return body
    raise RuntimeError("out of attempts")


def handle(store, key, request, process):
    if key not in store:
        store[key] = process(request)
    return store[key]


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
