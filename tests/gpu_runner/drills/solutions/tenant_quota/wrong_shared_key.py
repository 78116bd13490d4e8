"""Mistake: one key for all tenants: one tenant uses up everyone's quota."""

# expect: request \d+ .* was rejected


class TenantQuota:
    def __init__(self, redis, limit, window_s, clock):
        self.redis, self.limit, self.window_s, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        key = f"quota:{int(self.clock() // self.window_s)}"
        total = self.redis.incrby(key, tokens)
        if total == tokens:
            self.redis.expire(key, 2 * self.window_s)
        return total <= self.limit
