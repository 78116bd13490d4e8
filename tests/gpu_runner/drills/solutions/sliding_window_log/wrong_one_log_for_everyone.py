"""Mistake: one log shared by all users."""

# expect: op \d+ allow\('user-.*returned False, expected True

from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limit, window, clock):
        self.limit, self.window, self.clock = limit, window, clock
        self.log = deque()

    def allow(self, user):
        now = self.clock()
        while self.log and now - self.log[0] >= self.window:
            self.log.popleft()
        if len(self.log) < self.limit:
            self.log.append(now)
            return True
        return False
