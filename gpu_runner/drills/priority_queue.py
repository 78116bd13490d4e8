"""Drill `priority_queue`: a request queue serving short prompts first, without starvation."""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable

from gpu_runner.calling import ADVANCE_CLOCK, CLOCK, Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class RequestQueue:
    def __init__(self, max_wait: float, clock: Callable[[], float]) -> None: ...
    def push(self, request_id: str, prompt_len: int) -> None: ...
    def pop(self) -> str | None: ..."""

DOCSTRING = """\
A request queue for LLM serving that serves short prompts first.

`push(request_id, prompt_len)` queues a request at the current time `clock()`.
`pop()` removes and returns the id of the request to serve next, or None when
the queue is empty:
- if some queued request has waited longer than `max_wait` seconds (now minus
  its push time), the one pushed earliest among them (no request starves);
- otherwise the one with the shortest prompt, ties going to the one pushed
  first (FIFO within a priority tier).

Read the time from `clock()` (never decreasing), not from the system clock. Aim
for O(log n) per push and pop. Judged on a seeded trace of pushes, pops and clock
moves; every pop must match (times never make a wait equal `max_wait` exactly)."""

TEMPLATE = '''\
"""Drill priority_queue: write the `RequestQueue` class below; the judge replays a trace on it."""

from collections.abc import Callable


class RequestQueue:
    """Shortest prompt first, FIFO on ties; a request waiting over max_wait goes first."""

    def __init__(self, max_wait: float, clock: Callable[[], float]) -> None:
        raise NotImplementedError("RequestQueue is not implemented yet")

    def push(self, request_id: str, prompt_len: int) -> None:
        """Queue a request at the current time."""
        raise NotImplementedError

    def pop(self) -> str | None:
        """Remove and return the id of the request to serve next (None if empty)."""
        raise NotImplementedError
'''


class RequestQueue:
    """A min-heap on (prompt length, arrival number) and a FIFO deque, with lazy deletion."""

    def __init__(self, max_wait: float, clock: Callable[[], float]) -> None:
        self.max_wait = max_wait
        self.clock = clock
        self.heap: list[tuple[int, int, str]] = []
        self.fifo: deque[tuple[float, int, str]] = deque()
        self.served: set[int] = set()
        self.arrivals = 0

    def push(self, request_id: str, prompt_len: int) -> None:
        """Queue the request in both orders."""
        n = self.arrivals
        self.arrivals += 1
        heapq.heappush(self.heap, (prompt_len, n, request_id))
        self.fifo.append((self.clock(), n, request_id))

    def pop(self) -> str | None:
        """Serve the oldest request if it starved, else the shortest prompt."""
        while self.fifo and self.fifo[0][1] in self.served:
            self.fifo.popleft()
        while self.heap and self.heap[0][1] in self.served:
            heapq.heappop(self.heap)
        if not self.fifo:
            return None
        pushed_at, n, request_id = self.fifo[0]
        if self.clock() - pushed_at <= self.max_wait:
            _, n, request_id = heapq.heappop(self.heap)
        self.served.add(n)
        return request_id


# Clock steps are multiples of 1/4 and every max_wait is not, so no wait equals max_wait.
STEPS = (0.0, 0.0, 0.25, 0.5, 1.0, 1.5)


class PriorityQueueDrill(Drill):
    """Priority request queue judged on a clocked trace."""

    id = "priority_queue"
    title = "Priority request queue (short prompts first)"
    entry = "RequestQueue"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    void_methods = frozenset({"push"})
    reference_impl = RequestQueue
    reference_imports = (
        "import heapq",
        "from collections import deque",
        "from collections.abc import Callable",
    )
    bank_questions = (492,)
    public_cases = (
        Case("no_starvation", {"max_wait": 1000.1, "n_ops": 40, "lengths": 6}),
        Case("some_starve", {"max_wait": 3.1, "n_ops": 60, "lengths": 30}),
    )
    secret_cases = (
        Case("many_ties", {"max_wait": 500.3, "n_ops": 200, "lengths": 3, "still": 0.6}),
        Case("long_waits", {"max_wait": 2.1, "n_ops": 300, "lengths": 100, "push": 0.65}),
        Case("drains", {"max_wait": 4.3, "n_ops": 300, "lengths": 8, "push": 0.45}),
        Case("tight_wait", {"max_wait": 0.1, "n_ops": 200, "lengths": 50, "push": 0.6}),
    )
    bench_cases = (Case("bench_20k_ops", {"max_wait": 20.1, "n_ops": 20_000, "lengths": 2000}),)

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace of pushes (random ids, lengths from a small pool), pops and
        clock moves."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        push_share = float(p.get("push", 0.55))
        n_lengths = int(p["lengths"])
        still = float(p.get("still", 0.0))
        now = 0.0
        ops: list[tuple[str, tuple[object, ...]]] = []
        while len(ops) < int(p["n_ops"]):
            step = 0.0 if rng.random() < still else rng.choice(STEPS)
            if step:
                now += step
                ops.append((ADVANCE_CLOCK, (now,)))
            if rng.random() < push_share:
                request_id = f"req-{rng.randrange(1 << 32):08x}"
                ops.append(("push", (request_id, rng.randint(1, n_lengths) * 16)))
            else:
                ops.append(("pop", ()))
        return Trace((float(p["max_wait"]), CLOCK), {}, ops[: int(p["n_ops"])])


DRILL = PriorityQueueDrill()
