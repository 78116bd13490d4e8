"""Mistake: sleeps after the last failed attempt too."""

# expect: slept \d+ times for \d+ calls

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
                    sleep(min(max_delay, base_delay * 2**attempt) + random.uniform(0, jitter))
                    if attempt == max_retries:
                        raise

        return wrapper

    return decorate
