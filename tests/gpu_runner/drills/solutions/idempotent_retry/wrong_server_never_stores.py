"""Mistake: the server looks the key up but never stores results."""

# expect: did the work 2 times

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
        if status < 500:
            raise ValueError(body)
    raise RuntimeError("out of attempts")


def handle(store, key, request, process):
    if key in store:
        return store[key]
    return process(request)
