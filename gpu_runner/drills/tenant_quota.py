"""Drill `tenant_quota`: a per-tenant token quota on Redis with INCRBY and a TTL window."""

from __future__ import annotations

import math
from collections.abc import Callable

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, python_rng, standalone_source

SIGNATURE = """\
class TenantQuota:
    def __init__(
        self, redis: FakeRedis, limit: int, window_s: int, clock: Callable[[], float]
    ) -> None: ...
    def consume(self, tenant: str, tokens: int) -> bool: ..."""

DOCSTRING = """\
Enforce a per-tenant token quota of `limit` tokens per fixed window of
`window_s` seconds, with Redis.

`consume(tenant, tokens)` counts the tokens in a key for this tenant and this
window (window = int(clock() // window_s), e.g. quota:{tenant}:{window}):
INCRBY the key; when the key is new, EXPIRE it (a TTL of window_s to
2 * window_s seconds, so old windows clean themselves up); return True when the
new total is at most `limit`, else False (a 429). A rejected request may stay
counted or be given back with DECRBY: either passes.

`redis` is a fake with Redis's commands (get, set with ex/nx, incrby, decrby,
expire with nx, ttl, delete) on the judge's clock; read the time from `clock()`.
The file also holds the fake and `run_quota`, which the judge calls; the judge
runs its own copies of both, so you may leave them out and changes do not count.
Judged on every decision and on the keys left at the end (each must have a TTL)."""


class TenantQuota:
    """INCRBY the window's key, EXPIRE it when new; rejected tokens stay counted."""

    def __init__(
        self, redis: FakeRedis, limit: int, window_s: int, clock: Callable[[], float]
    ) -> None:
        self.redis = redis
        self.limit = limit
        self.window_s = window_s
        self.clock = clock

    def consume(self, tenant: str, tokens: int) -> bool:
        """Count the tokens in this window; allow while the total is within the limit."""
        key = f"quota:{tenant}:{int(self.clock() // self.window_s)}"
        total = self.redis.incrby(key, tokens)
        if total == tokens:
            self.redis.expire(key, 2 * self.window_s)
        return total <= self.limit


class RefundingQuota(TenantQuota):
    """The other accepted policy: a rejected request's tokens are given back."""

    def consume(self, tenant: str, tokens: int) -> bool:
        """Count, and give the tokens back when over the limit."""
        key = f"quota:{tenant}:{int(self.clock() // self.window_s)}"
        total = self.redis.incrby(key, tokens)
        self.redis.expire(key, 2 * self.window_s, nx=True)
        if total > self.limit:
            self.redis.decrby(key, tokens)
            return False
        return True


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


TEMPLATE = '''\
"""Drill tenant_quota: write `TenantQuota` below; the judge calls `run_quota`, which uses it."""

import math
from collections.abc import Callable


class TenantQuota:
    """INCRBY quota:{tenant}:{window}; EXPIRE a new key; allow while the total <= limit."""

    def __init__(
        self, redis: "FakeRedis", limit: int, window_s: int, clock: Callable[[], float]
    ) -> None:
        raise NotImplementedError("TenantQuota is not implemented yet")

    def consume(self, tenant: str, tokens: int) -> bool:
        """Count `tokens` for this tenant's current window; True if within the limit."""
        raise NotImplementedError


''' + standalone_source(FakeRedis, run_quota, imports=())


def _decisions(quota_cls: type[TenantQuota], inputs: FunctionCall) -> list[bool]:
    ops, limit, window_s = inputs.args
    now = [0.0]
    redis = FakeRedis(lambda: now[0])
    quota = quota_cls(redis, limit, window_s, lambda: now[0])
    out = []
    for t, tenant, tokens in ops:
        now[0] = float(t)
        out.append(bool(quota.consume(tenant, tokens)))
    return out


class TenantQuotaDrill(Drill):
    """Tenant quota judged on its decisions (either accepted policy) and on its keys' TTLs."""

    id = "tenant_quota"
    title = "Per-tenant token quota on Redis"
    entry = "run_quota"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(run_quota)
    reference_helpers = (TenantQuota, FakeRedis)
    provided = (FakeRedis, run_quota)
    provided_imports = ("import math", "from collections.abc import Callable")
    reference_imports = (
        "from __future__ import annotations",
        "import math",
        "from collections.abc import Callable",
    )
    bank_questions = (505,)
    public_cases = (
        Case("one_tenant", {"tenants": 1, "limit": 100, "window": 10, "requests": 30}),
        Case("three_tenants", {"tenants": 3, "limit": 50, "window": 10, "requests": 60}),
    )
    secret_cases = (
        Case("long_run", {"tenants": 4, "limit": 200, "window": 5, "requests": 300, "gap": 2.0}),
        Case("big_requests", {"tenants": 2, "limit": 60, "window": 20, "requests": 100, "big": 1}),
        Case(
            "exact_fill",
            {"tenants": 2, "limit": 60, "window": 10, "requests": 80, "sizes": [10, 20, 30]},
        ),
        Case(
            "idle_tenants", {"tenants": 6, "limit": 80, "window": 10, "requests": 200, "gap": 4.0}
        ),
    )
    bench_cases = (
        Case("bench_5k_requests", {"tenants": 50, "limit": 1000, "window": 60, "requests": 5000}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return (time, tenant, tokens) requests at half-second steps, bursty per tenant."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        tenants = [f"tenant-{rng.randrange(1 << 16):04x}-{i}" for i in range(int(p["tenants"]))]
        limit, gap = int(p["limit"]), float(p.get("gap", 1.0))
        top = limit if p.get("big") else max(1, limit // 4)
        now, ops = 0.0, []
        for _ in range(int(p["requests"])):
            now += rng.choice((0.0, 0.5, 0.5, 1.0)) * gap
            sizes = p.get("sizes")
            tokens = rng.choice(sizes) if sizes else rng.randint(1, top)
            ops.append((now, rng.choice(tenants), tokens))
        return FunctionCall((ops, limit, int(p["window"])), {})

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Decisions must follow one accepted policy; every key left must have a TTL."""
        assert isinstance(inputs, FunctionCall) and isinstance(expected, tuple)
        if not isinstance(got, tuple | list) or len(got) != 2:
            return "run_quota should return (decisions, keys): leave it as it is"
        decisions, keys = got
        ops, limit, window_s = inputs.args
        policies = (list(expected[0]), _decisions(RefundingQuota, inputs))
        if list(decisions) not in policies:
            i = (
                next(
                    j
                    for j in range(len(ops))
                    if j >= len(decisions) or all(decisions[j] != pol[j] for pol in policies)
                )
                if len(decisions) == len(ops)
                else 0
            )
            if len(decisions) != len(ops):
                return f"run_quota returned {len(decisions)} decisions for {len(ops)} requests"
            t, tenant, tokens = ops[i]
            before = [
                op for op in ops[:i] if op[1] == tenant and op[0] // window_s == t // window_s
            ]
            used = sum(n for _, _, n in before)
            return (
                f"request {i} (t={t:g}s, {tenant}, {tokens} tokens) was "
                f"{'allowed' if decisions[i] else 'rejected'}; this tenant asked for {used} "
                f"tokens earlier in window {int(t // window_s)} (limit {limit})"
            )
        for key, ttl in keys:
            if not isinstance(ttl, int) or ttl < 0:
                return (
                    f"key {key!r} has no expiry (ttl {ttl}): EXPIRE each window's key so old "
                    "windows do not pile up in Redis"
                )
            if ttl > 2 * window_s:
                return (
                    f"key {key!r} lives {ttl}s more; a window's key needs at most {2 * window_s}s"
                )
        return None


DRILL = TenantQuotaDrill()
