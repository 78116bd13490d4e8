"""Drill `continuous_batching`: the scheduler of a continuously batched LLM server."""

from __future__ import annotations

from collections import deque

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, compare_trace_results, python_rng, raised

SIGNATURE = """\
class ContinuousBatcher:
    def __init__(self, max_num_seqs: int) -> None: ...
    def add(self, seq_id: str, max_new_tokens: int) -> None: ...
    def step(self, eos: list[str]) -> list[str]: ..."""

DOCSTRING = """\
A continuous-batching scheduler: finished sequences leave the batch at once and
waiting ones take their slots at the next step (no waiting for the whole batch).

`add(seq_id, max_new_tokens)` puts a request at the back of the waiting queue.
`step(eos)` plans one forward pass and returns the ids in its batch:
1. remove the running sequences that finished: those named in `eos` (their
   last generated token was end-of-sequence) and those that have generated
   max_new_tokens tokens;
2. admit waiting sequences in arrival order (FIFO) while fewer than
   `max_num_seqs` are running;
3. return the ids of all running sequences, in any order: each generates one
   token in this step.

Judged on a seeded trace of adds and steps (the `eos` of a step only names
sequences of the batch before); each batch is compared as a set."""

TEMPLATE = '''\
"""Drill continuous_batching: write the class below; the judge replays a trace on it."""


class ContinuousBatcher:
    """A FIFO waiting queue and at most `max_num_seqs` running sequences."""

    def __init__(self, max_num_seqs: int) -> None:
        raise NotImplementedError("ContinuousBatcher is not implemented yet")

    def add(self, seq_id: str, max_new_tokens: int) -> None:
        """Queue a request."""
        raise NotImplementedError

    def step(self, eos: list[str]) -> list[str]:
        """Drop finished sequences, admit waiting ones, return the batch's ids."""
        raise NotImplementedError
'''


class ContinuousBatcher:
    """A deque of waiting requests and a dict of running ones with their token counts."""

    def __init__(self, max_num_seqs: int) -> None:
        self.max_num_seqs = max_num_seqs
        self.waiting: deque[tuple[str, int]] = deque()
        self.running: dict[str, list[int]] = {}  # id -> [generated, max_new_tokens]

    def add(self, seq_id: str, max_new_tokens: int) -> None:
        """Queue a request at the back."""
        self.waiting.append((seq_id, max_new_tokens))

    def step(self, eos: list[str]) -> list[str]:
        """Retire finished sequences, fill the free slots in FIFO order, run everyone once."""
        done = set(eos)
        for seq_id, (generated, limit) in list(self.running.items()):
            if seq_id in done or generated >= limit:
                del self.running[seq_id]
        while self.waiting and len(self.running) < self.max_num_seqs:
            seq_id, limit = self.waiting.popleft()
            self.running[seq_id] = [0, limit]
        for state in self.running.values():
            state[0] += 1
        return list(self.running)


class ContinuousBatchingDrill(Drill):
    """Continuous batching scheduler judged on a trace of arrivals, EOS and steps."""

    id = "continuous_batching"
    title = "Continuous batching scheduler"
    entry = "ContinuousBatcher"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    void_methods = frozenset({"add"})
    reference_impl = ContinuousBatcher
    reference_imports = ("from collections import deque",)
    bank_questions = (478,)
    public_cases = (
        Case("two_slots", {"slots": 2, "steps": 15, "max_tokens": 4, "eos": 0.0}),
        Case("with_eos", {"slots": 3, "steps": 25, "max_tokens": 8, "eos": 0.15}),
    )
    secret_cases = (
        Case("one_slot", {"slots": 1, "steps": 30, "max_tokens": 3, "eos": 0.2}),
        Case("one_token_requests", {"slots": 4, "steps": 30, "max_tokens": 1, "eos": 0.0}),
        Case("busy", {"slots": 8, "steps": 120, "max_tokens": 20, "eos": 0.05, "arrivals": 0.9}),
        Case("quiet", {"slots": 6, "steps": 80, "max_tokens": 6, "eos": 0.1, "arrivals": 0.15}),
    )
    bench_cases = (
        Case(
            "bench_5k_steps",
            {"slots": 64, "steps": 5000, "max_tokens": 100, "eos": 0.01, "arrivals": 0.9},
        ),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a trace of arrivals and steps; EOS names some of the previous batch."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        sim = ContinuousBatcher(int(p["slots"]))
        arrivals, eos_share = float(p.get("arrivals", 0.5)), float(p["eos"])
        ops: list[tuple[str, tuple[object, ...]]] = []
        batch: list[str] = []
        n = 0
        for _ in range(int(p["steps"])):
            for _ in range(rng.choice((0, 1, 1, 2, 3)) if rng.random() < arrivals else 0):
                seq_id = f"seq-{n}-{rng.randrange(1 << 16):04x}"
                n += 1
                limit = rng.randint(1, int(p["max_tokens"]))
                sim.add(seq_id, limit)
                ops.append(("add", (seq_id, limit)))
            eos = [s for s in batch if rng.random() < eos_share]
            batch = sim.step(eos)
            ops.append(("step", (eos,)))
        return Trace((int(p["slots"]),), {}, ops)

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Compare each step's batch as a set (sorted), everything else as usual."""

        def as_set(value: object) -> object:
            if isinstance(value, list | tuple) and not raised(value):
                try:
                    return sorted(value)  # type: ignore[type-var]
                except TypeError:
                    return value
            return value

        if isinstance(got, list | tuple):
            got = [as_set(g) for g in got]
        if isinstance(expected, list):
            expected = [as_set(e) for e in expected]
        return compare_trace_results(
            got,
            expected,
            inputs if isinstance(inputs, Trace) else None,
            void_methods=self.void_methods,
        )


DRILL = ContinuousBatchingDrill()
