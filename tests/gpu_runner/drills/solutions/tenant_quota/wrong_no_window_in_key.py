"""Mistake: the key has no window, so the quota never resets."""

# expect: request \d+ .* was rejected

import math
from collections.abc import Callable


class TenantQuota:
    def __init__(self, redis, limit, window_s, clock):
        self.redis, self.limit, self.window_s, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        key = f"quota:{tenant}"
        total = self.redis.incrby(key, tokens)
        if total == tokens:
            self.redis.expire(key, 2 * self.window_s)
        return total <= self.limit


class FakeRedis:
    """Provided (leave as it is): the Redis commands a quota needs, on the judge's clock.

    Values are ints; a key past its expiry is gone. ttl: -2 missing, -1 no expiry.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.data: dict[str, int] = {}
        self.expires: dict[str, float] = {}

    def _live(self, key: str) -> bool:
        if key in self.expires and self.clock() >= self.expires[key]:
            del self.data[key], self.expires[key]
        return key in self.data

    def get(self, key: str) -> int | None:
        return self.data[key] if self._live(key) else None

    def set(self, key: str, value: int, ex: int | None = None, nx: bool = False) -> bool:
        if nx and self._live(key):
            return False
        self.data[key] = int(value)
        self.expires.pop(key, None)
        if ex is not None:
            self.expires[key] = self.clock() + ex
        return True

    def incrby(self, key: str, amount: int) -> int:
        self.data[key] = (self.data[key] if self._live(key) else 0) + int(amount)
        return self.data[key]

    def decrby(self, key: str, amount: int) -> int:
        return self.incrby(key, -int(amount))

    def expire(self, key: str, seconds: int, nx: bool = False) -> bool:
        if not self._live(key) or (nx and key in self.expires):
            return False
        self.expires[key] = self.clock() + seconds
        return True

    def ttl(self, key: str) -> int:
        if not self._live(key):
            return -2
        if key not in self.expires:
            return -1
        return max(0, math.ceil(self.expires[key] - self.clock()))

    def delete(self, key: str) -> int:
        live = self._live(key)
        self.data.pop(key, None)
        self.expires.pop(key, None)
        return int(live)


def run_quota(
    ops: list[tuple[float, str, int]], limit: int, window_s: int
) -> tuple[list[bool], list[tuple[str, int]]]:
    """Provided (leave as it is): replay (time, tenant, tokens) requests on your quota.

    Returns the decisions and, at the end, every live key with its ttl.
    """
    now = [0.0]
    redis = FakeRedis(lambda: now[0])
    quota = TenantQuota(redis, limit, window_s, lambda: now[0])
    decisions = []
    for t, tenant, tokens in ops:
        now[0] = float(t)
        decisions.append(bool(quota.consume(tenant, tokens)))
    keys = [k for k in list(redis.data) if redis.ttl(k) != -2]
    return decisions, [(k, redis.ttl(k)) for k in sorted(keys)]
