"""Mistake: no jitter: every client that failed together retries together."""

# expect: carry the same jitter every time

import functools
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
                    sleep(min(max_delay, base_delay * 2**attempt))

        return wrapper

    return decorate
