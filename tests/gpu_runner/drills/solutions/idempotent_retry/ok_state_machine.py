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
