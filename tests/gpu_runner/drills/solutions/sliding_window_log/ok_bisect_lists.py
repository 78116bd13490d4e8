"""Correct: sorted lists per user and bisect to find the first live entry."""

import bisect
from collections import defaultdict


class SlidingWindowLimiter:
    def __init__(self, limit, window, clock):
        self.limit, self.window, self.clock = limit, window, clock
        self.times = defaultdict(list)

    def allow(self, user):
        now = self.clock()
        log = self.times[user]
        start = bisect.bisect_right(log, now - self.window)
        if start:
            del log[:start]
        if len(log) >= self.limit:
            return False
        log.append(now)
        return True
