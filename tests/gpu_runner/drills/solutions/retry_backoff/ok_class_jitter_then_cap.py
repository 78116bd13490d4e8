"""Correct: a class as the decorator factory, the jitter added before the cap."""

import functools
import random
import time


class retry:
    """A class-based decorator with jitter-then-cap and a while loop."""

    def __init__(
        self, max_retries, base_delay, max_delay, jitter, retry_on=(Exception,), sleep=time.sleep
    ):
        self.args = (max_retries, base_delay, max_delay, jitter, retry_on, sleep)

    def __call__(self, fn):
        max_retries, base, cap, jitter, retry_on, sleep = self.args

        @functools.wraps(fn)
        def wrapper(*a, **kw):
            attempt = 0
            while True:
                try:
                    return fn(*a, **kw)
                except retry_on:
                    if attempt >= max_retries:
                        raise
                    sleep(min(cap, base * (2**attempt) + random.random() * jitter))
                    attempt += 1

        return wrapper
