"""Mistake: never sets a TTL, so every window leaves a key behind forever."""

# expect: has no expiry


class TenantQuota:
    def __init__(self, redis, limit, window_s, clock):
        self.redis, self.limit, self.window_s, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        key = f"quota:{tenant}:{int(self.clock() // self.window_s)}"
        total = self.redis.incrby(key, tokens)
        return total <= self.limit
