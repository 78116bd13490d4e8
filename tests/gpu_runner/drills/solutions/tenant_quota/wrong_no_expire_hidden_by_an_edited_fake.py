"""Mistake: never sets a TTL, and edits the provided fake so that every key seems to have one."""

# expect: has no expiry

import math


class TenantQuota:
    def __init__(self, redis, limit, window_s, clock):
        self.redis, self.limit, self.window_s, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        key = f"quota:{tenant}:{int(self.clock() // self.window_s)}"
        return self.redis.incrby(key, tokens) <= self.limit


class FakeRedis:
    def __init__(self, clock):
        self.clock, self.data = clock, {}

    def incrby(self, key, amount):
        self.data[key] = self.data.get(key, 0) + int(amount)
        return self.data[key]

    def ttl(self, key):
        return math.ceil(10.0) if key in self.data else -2


def run_quota(ops, limit, window_s):
    now = [0.0]
    redis = FakeRedis(lambda: now[0])
    quota = TenantQuota(redis, limit, window_s, lambda: now[0])
    decisions = []
    for t, tenant, tokens in ops:
        now[0] = float(t)
        decisions.append(bool(quota.consume(tenant, tokens)))
    return decisions, [(k, redis.ttl(k)) for k in sorted(redis.data) if now[0] // window_s == 0]
