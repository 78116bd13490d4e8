"""Mistake: takes the tokens even when the request is denied."""

# expect: op \d+ allow\(.*returned False, expected True


class TokenBucket:
    def __init__(self, rate, capacity, clock):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens = capacity
        self.last = clock()

    def allow(self, cost=1):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        allowed = self.tokens >= cost
        self.tokens -= cost
        return allowed
