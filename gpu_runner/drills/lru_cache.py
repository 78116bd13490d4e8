"""Drill `lru_cache`: a fixed-capacity least-recently-used cache."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from gpu_runner.calling import Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class LRUCache:
    def __init__(self, capacity: int) -> None: ...
    def get(self, key: Hashable) -> object | None: ...
    def put(self, key: Hashable, value: object) -> None: ..."""

DOCSTRING = """\
A cache holding at most `capacity` (>= 1) entries.

`get(key)` returns the value stored for key, or None on a miss; a hit makes the
key the most recently used. `put(key, value)` stores or replaces the value and
makes the key the most recently used; when a new key would exceed the
capacity, the least recently used entry is evicted first. Replacing the value
of a present key evicts nothing. Both should take O(1) time.

Judged on a seeded trace of gets and puts: every get's result must equal the
reference's, and the trace is timed as a whole."""

TEMPLATE = '''\
"""Drill lru_cache: write the `LRUCache` class below; the judge replays a trace on it."""

from collections.abc import Hashable


class LRUCache:
    """At most `capacity` entries; get and put make a key the most recently used."""

    def __init__(self, capacity: int) -> None:
        raise NotImplementedError("LRUCache is not implemented yet")

    def get(self, key: Hashable) -> object | None:
        """Return the value for key (and mark it most recently used), or None on a miss."""
        raise NotImplementedError

    def put(self, key: Hashable, value: object) -> None:
        """Store the value, evicting the least recently used entry when over capacity."""
        raise NotImplementedError
'''


class LRUCache:
    """An OrderedDict kept in recency order, least recently used first."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: OrderedDict[Hashable, object] = OrderedDict()

    def get(self, key: Hashable) -> object | None:
        """Return the value for key and mark it most recently used, or None on a miss."""
        if key not in self.entries:
            return None
        self.entries.move_to_end(key)
        return self.entries[key]

    def put(self, key: Hashable, value: object) -> None:
        """Store the value as most recently used, evicting the least recently used if full."""
        if key in self.entries:
            self.entries.move_to_end(key)
        elif len(self.entries) >= self.capacity:
            self.entries.popitem(last=False)
        self.entries[key] = value


class LRUCacheDrill(Drill):
    """LRU cache judged on a trace of gets and puts."""

    id = "lru_cache"
    title = "LRU cache"
    entry = "LRUCache"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    void_methods = frozenset({"put"})
    reference_impl = LRUCache
    reference_imports = (
        "from collections import OrderedDict",
        "from collections.abc import Hashable",
    )
    bank_questions = (474,)
    public_cases = (
        Case("capacity_two", {"capacity": 2, "n_ops": 40, "keys": 5}),
        Case("capacity_three_strings", {"capacity": 3, "n_ops": 60, "keys": 7, "str_keys": True}),
    )
    secret_cases = (
        Case("capacity_one", {"capacity": 1, "n_ops": 50, "keys": 3}),
        Case("hot_keys", {"capacity": 4, "n_ops": 300, "keys": 9, "hot": 0.5}),
        Case("many_updates", {"capacity": 5, "n_ops": 300, "keys": 8, "put_share": 0.7}),
        Case("large", {"capacity": 64, "n_ops": 3000, "keys": 150}),
    )
    bench_cases = (
        Case("bench_100k_ops", {"capacity": 1000, "n_ops": 100_000, "keys": 3000}),
        Case("bench_hot_50k_ops", {"capacity": 256, "n_ops": 50_000, "keys": 2000, "hot": 0.6}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace of gets and puts over a small key pool (so keys recur)."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        n_keys = int(p["keys"])
        keys: list[Hashable] = (
            [f"k{i}" for i in range(n_keys)] if p.get("str_keys") else list(range(n_keys))
        )
        hot = keys[: max(1, n_keys // 4)]
        hot_share = float(p.get("hot", 0.0))
        put_share = float(p.get("put_share", 0.5))
        ops: list[tuple[str, tuple[object, ...]]] = []
        for _ in range(int(p["n_ops"])):
            key = rng.choice(hot) if rng.random() < hot_share else rng.choice(keys)
            if rng.random() < put_share:
                ops.append(("put", (key, rng.randrange(1_000_000))))
            else:
                ops.append(("get", (key,)))
        return Trace((int(p["capacity"]),), {}, ops)


DRILL = LRUCacheDrill()
