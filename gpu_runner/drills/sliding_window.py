"""Drill `sliding_window_log`: a per-user sliding-window-log rate limiter on an injected clock."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from gpu_runner.calling import ADVANCE_CLOCK, CLOCK, Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class SlidingWindowLimiter:
    def __init__(
        self, limit: int, window: float, clock: Callable[[], float]
    ) -> None: ...
    def allow(self, user: str) -> bool: ..."""

DOCSTRING = """\
A per-user rate limiter: at most `limit` requests per user in any `window` seconds.

Keep a log of the times of each user's allowed requests. `allow(user)` at time
now = clock() first forgets that user's entries older than the window (now - t
>= window), then: if fewer than `limit` entries remain, records now and returns
True; otherwise returns False and records nothing (a denied request does not
count). Users are independent.

Read the time from `clock()` (never decreasing), not from the system clock.
Memory is O(requests per window) per user. Judged on a seeded trace of clock
moves and requests from several users (times never put an entry exactly on the
window's edge); every decision must match."""

TEMPLATE = '''\
"""Drill sliding_window_log: write the class below; the judge replays a trace on it."""

from collections.abc import Callable


class SlidingWindowLimiter:
    """At most `limit` allowed requests per user in any `window` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        raise NotImplementedError("SlidingWindowLimiter is not implemented yet")

    def allow(self, user: str) -> bool:
        """Return whether `user` may make a request now (and log it if so)."""
        raise NotImplementedError
'''


class SlidingWindowLimiter:
    """A deque of allowed-request times per user, trimmed from the left."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.logs: dict[str, deque[float]] = {}

    def allow(self, user: str) -> bool:
        """Drop the user's expired entries, then log the request if there is room."""
        now = self.clock()
        log = self.logs.setdefault(user, deque())
        while log and now - log[0] >= self.window:
            log.popleft()
        if len(log) < self.limit:
            log.append(now)
            return True
        return False


# Clock steps are multiples of 1/8 and every window is an odd multiple of 1/16, so no entry
# ever sits exactly on the window's edge.
STEPS = (0.0, 0.0, 0.125, 0.25, 0.5, 1.0, 2.0)


class SlidingWindowDrill(Drill):
    """Sliding-window-log limiter judged on a clocked trace."""

    id = "sliding_window_log"
    title = "Sliding-window-log rate limiter"
    entry = "SlidingWindowLimiter"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = SlidingWindowLimiter
    reference_imports = ("from collections import deque", "from collections.abc import Callable")
    bank_questions = (480,)
    public_cases = (
        Case("one_user", {"limit": 3, "window": 2.0625, "users": 1, "n_ops": 40}),
        Case("three_users", {"limit": 2, "window": 1.0625, "users": 3, "n_ops": 60}),
    )
    secret_cases = (
        Case("limit_one", {"limit": 1, "window": 0.5625, "users": 2, "n_ops": 120}),
        Case("long_window", {"limit": 5, "window": 10.0625, "users": 4, "n_ops": 300}),
        Case("bursts", {"limit": 4, "window": 3.0625, "users": 6, "n_ops": 400, "burst": 0.4}),
        Case("one_hot_user", {"limit": 10, "window": 5.0625, "users": 8, "n_ops": 400, "hot": 0.7}),
    )
    bench_cases = (
        Case("bench_20k_ops", {"limit": 50, "window": 30.0625, "users": 200, "n_ops": 20_000}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace of clock moves and requests (bursts at one instant, a hot user)."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        users = [f"user-{rng.randrange(1 << 20):05x}-{i}" for i in range(int(p["users"]))]
        burst, hot = float(p.get("burst", 0.15)), float(p.get("hot", 0.0))
        now = 0.0
        ops: list[tuple[str, tuple[object, ...]]] = []
        while len(ops) < int(p["n_ops"]):
            step = rng.choice(STEPS)
            if step:
                now += step
                ops.append((ADVANCE_CLOCK, (now,)))
            user = users[0] if rng.random() < hot else rng.choice(users)
            repeat = rng.randint(2, 5) if rng.random() < burst else 1
            ops.extend(("allow", (user,)) for _ in range(repeat))
        return Trace((int(p["limit"]), float(p["window"]), CLOCK), {}, ops[: int(p["n_ops"])])


DRILL = SlidingWindowDrill()
