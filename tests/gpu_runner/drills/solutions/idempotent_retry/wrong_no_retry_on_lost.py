"""Mistake: treats a lost response (ConnectionError) as final."""

# expect: ended 'raised' after 1 attempts

import uuid


def call_with_retry(send, request, max_attempts, sleep):
    key = uuid.uuid4().hex
    for attempt in range(max_attempts):
        if attempt:
            sleep(0.05 * 2**attempt)
        try:
            status, body = send(request, key)
        except ConnectionError:
            raise
        if status == 200:
            return body
        if status < 500:
            raise ValueError(body)
    raise RuntimeError("out of attempts")


def handle(store, key, request, process):
    if key not in store:
        store[key] = process(request)
    return store[key]
