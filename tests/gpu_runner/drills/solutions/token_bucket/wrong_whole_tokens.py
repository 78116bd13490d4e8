"""Mistake: refills whole tokens only and loses the fractions."""

# expect: returned False, expected True


class TokenBucket:
    def __init__(self, rate, capacity, clock):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens = capacity
        self.last = clock()

    def allow(self, cost=1):
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + int((now - self.last) * self.rate))
        self.last = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False
