"""Mistake: catches every exception, so a ValueError is retried too."""

# expect: the call ended .* after \d+ calls; expected

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
                except Exception:
                    if attempt == max_retries:
                        raise
                    sleep(min(max_delay, base_delay * 2**attempt) + random.uniform(0, jitter))

        return wrapper

    return decorate
