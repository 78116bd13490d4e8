"""Mistake: derives the key from the request text: two requests of the same text share a result."""

# expect: work done 0 times|reused the key


def call_with_retry(send, request, max_attempts, sleep):
    key = str(abs(hash(request)))
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
    if key not in store:
        store[key] = process(request)
    return store[key]
