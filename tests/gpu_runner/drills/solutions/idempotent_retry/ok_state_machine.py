"""Correct: a retrying object, uuid1 keys, store.get on the server."""

import uuid


class _Retrying:
    """Correct: a small state machine; the key made when the request is first seen."""

    def __init__(self, send, request, max_attempts, sleep):
        self.send, self.request, self.left, self.sleep = send, request, max_attempts, sleep
        self.key = str(uuid.uuid1())
        self.delay = 0.01

    def run(self):
        while self.left:
            self.left -= 1
            try:
                status, body = self.send(self.request, self.key)
                if status == 200:
                    return body
                if 400 <= status < 500:
                    raise PermissionError(status)
            except ConnectionError:
                pass
            if self.left:
                self.sleep(self.delay)
                self.delay *= 3
        raise ConnectionError("gave up")


def call_with_retry(send, request, max_attempts, sleep):
    return _Retrying(send, request, max_attempts, sleep).run()


def handle(store, key, request, process):
    cached = store.get(key)
    if cached is None:
        cached = store[key] = process(request)
    return cached


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
