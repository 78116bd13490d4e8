"""Mistake: denied requests are logged too, so a client that keeps retrying stays locked out."""

# expect: returned False, expected True

from collections import defaultdict, deque


class SlidingWindowLimiter:
    def __init__(self, limit, window, clock):
        self.limit, self.window, self.clock = limit, window, clock
        self.logs = defaultdict(deque)

    def allow(self, user):
        now = self.clock()
        log = self.logs[user]
        while log and now - log[0] >= self.window:
            log.popleft()
        allowed = len(log) < self.limit
        log.append(now)
        return allowed
