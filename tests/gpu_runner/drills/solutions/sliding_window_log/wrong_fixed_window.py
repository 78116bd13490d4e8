"""Mistake: a fixed-window counter (now // window), which lets bursts straddle a boundary."""

# expect: op \d+ allow\('user-

from collections import defaultdict


class SlidingWindowLimiter:
    def __init__(self, limit, window, clock):
        self.limit, self.window, self.clock = limit, window, clock
        self.counts = defaultdict(int)

    def allow(self, user):
        key = (user, int(self.clock() // self.window))
        if self.counts[key] >= self.limit:
            return False
        self.counts[key] += 1
        return True
