"""Mistake: makes a new key for every attempt, so a lost response means the work is done twice."""

# expect: did the work 2 times|attempts used \d+ keys

import uuid


def call_with_retry(send, request, max_attempts, sleep):
    for attempt in range(max_attempts):
        key = uuid.uuid4().hex
        if attempt:
            sleep(0.05 * 2**attempt)
        try:
            status, body = send(request, key)
        except ConnectionError:
            continue
        if status == 200:
            return body
        if status < 500:
            raise ValueError(body)
    raise RuntimeError("out of attempts")


def handle(store, key, request, process):
    if key not in store:
        store[key] = process(request)
    return store[key]
