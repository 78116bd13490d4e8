"""Drill `token_bucket`: a token-bucket rate limiter on an injected clock."""

from __future__ import annotations

from collections.abc import Callable

from gpu_runner.calling import ADVANCE_CLOCK, CLOCK, Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class TokenBucket:
    def __init__(
        self, rate: float, capacity: float, clock: Callable[[], float]
    ) -> None: ...
    def allow(self, cost: float = 1) -> bool: ..."""

DOCSTRING = """\
A rate limiter that allows a request when enough tokens are in the bucket.

Tokens refill continuously at `rate` per second up to `capacity`; a request
of `cost` tokens is allowed when that many are there.

The bucket starts full at the time of construction. `clock()` returns the
current time in seconds (never decreasing); read it instead of the system
clock. `allow(cost)` first adds rate * (elapsed seconds) tokens, capped at
capacity, then: if at least `cost` tokens are there, removes them and returns
True; otherwise returns False and removes nothing. A request costing more than
the capacity is never allowed.

Judged on a seeded trace of clock moves and requests (times and rates are exact
in binary, so the reference's decisions are exact); every decision must match."""

TEMPLATE = '''\
"""Drill token_bucket: write the `TokenBucket` class below; the judge replays a trace on it."""

from collections.abc import Callable


class TokenBucket:
    """Refills at `rate` tokens per second up to `capacity`; starts full."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        raise NotImplementedError("TokenBucket is not implemented yet")

    def allow(self, cost: float = 1) -> bool:
        """Take `cost` tokens and return True if there are enough, else return False."""
        raise NotImplementedError
'''


class TokenBucket:
    """Lazy refill: tokens are brought up to date at each request."""

    def __init__(self, rate: float, capacity: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.tokens = float(capacity)
        self.updated = clock()

    def allow(self, cost: float = 1) -> bool:
        """Refill for the elapsed time, then spend `cost` tokens if they are there."""
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= cost:
            self.tokens -= cost
            return True
        return False


# Steps of the clock in seconds: multiples of 1/8, so every time and refill is a dyadic
# rational and the decisions never depend on rounding.
STEPS = (0.0, 0.125, 0.25, 0.5, 0.5, 1.0, 1.0, 1.5, 2.0, 3.0)


class TokenBucketDrill(Drill):
    """Token bucket judged on a clocked trace."""

    id = "token_bucket"
    title = "Token-bucket rate limiter"
    entry = "TokenBucket"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = TokenBucket
    reference_imports = ("from collections.abc import Callable",)
    bank_questions = (472,)
    public_cases = (
        Case("steady", {"rate": 2.0, "capacity": 4, "n_ops": 40}),
        Case("slow_refill", {"rate": 0.5, "capacity": 3, "n_ops": 40}),
    )
    secret_cases = (
        Case("long_idle", {"rate": 1.0, "capacity": 5, "n_ops": 120, "idle": 0.15}),
        Case("costs", {"rate": 4.0, "capacity": 10, "n_ops": 150, "costs": True}),
        Case("fractional", {"rate": 1.25, "capacity": 2.5, "n_ops": 150, "costs": True}),
        Case("bursts", {"rate": 8.0, "capacity": 16, "n_ops": 400, "burst": 0.3, "idle": 0.05}),
    )
    bench_cases = (
        Case("bench_100k_ops", {"rate": 100.0, "capacity": 50, "n_ops": 100_000, "burst": 0.5}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace of clock moves and requests of various costs."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        rate, capacity = float(p["rate"]), float(p["capacity"])
        idle_share = float(p.get("idle", 0.05))
        burst_share = float(p.get("burst", 0.2))
        with_costs = bool(p.get("costs"))
        now = 0.0
        ops: list[tuple[str, tuple[object, ...]]] = []
        while len(ops) < int(p["n_ops"]):
            roll = rng.random()
            if roll < idle_share:
                # Idle for several times the refill time: a bucket without a cap overflows.
                now += (capacity / rate) * rng.choice((2.0, 4.0, 8.0))
                ops.append((ADVANCE_CLOCK, (now,)))
            elif roll < idle_share + burst_share:
                ops.extend(("allow", ()) for _ in range(rng.randint(2, 6)))
            else:
                step = rng.choice(STEPS)
                if step:
                    now += step
                    ops.append((ADVANCE_CLOCK, (now,)))
                if with_costs:
                    cost = rng.choice((1, 1, 2, 3, capacity, capacity + 1, 0.5))
                    ops.append(("allow", (cost,)))
                else:
                    ops.append(("allow", ()) if rng.random() < 0.5 else ("allow", (1,)))
        return Trace((rate, capacity, CLOCK), {}, ops[: int(p["n_ops"])])


DRILL = TokenBucketDrill()
