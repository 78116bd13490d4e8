"""Mistake: the key has no window, so the quota never resets."""

# expect: request \d+ .* was rejected


class TenantQuota:
    def __init__(self, redis, limit, window_s, clock):
        self.redis, self.limit, self.window_s, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        key = f"quota:{tenant}"
        total = self.redis.incrby(key, tokens)
        if total == tokens:
            self.redis.expire(key, 2 * self.window_s)
        return total <= self.limit
