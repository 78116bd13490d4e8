"""Mistake: reads the system clock instead of the injected one."""

# expect: returned False, expected True

import time


class TokenBucket:
    def __init__(self, rate, capacity, clock):
        self.rate, self.capacity = rate, capacity
        self.tokens = capacity
        self.last = time.monotonic()

    def allow(self, cost=1):
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
