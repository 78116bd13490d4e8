"""Mistake: the delay is never capped at max_delay."""

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
                    sleep(base_delay * 2**attempt + random.uniform(0, jitter))

        return wrapper

    return decorate
