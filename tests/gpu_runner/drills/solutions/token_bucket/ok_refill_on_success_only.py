"""Correct: the refill clock moves only when a request is served."""


class TokenBucket:
    def __init__(self, rate, capacity, clock):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens = capacity
        self.last = clock()

    def allow(self, cost=1):
        now = self.clock()
        available = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        if available < cost:
            return False
        self.tokens = available - cost
        self.last = now
        return True
