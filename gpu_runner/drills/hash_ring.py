"""Drill `hash_ring`: consistent hashing with virtual nodes."""

from __future__ import annotations

import bisect
import hashlib

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import (
    Case,
    Drill,
    check_trace_shape,
    compare_void_result,
    describe_trace_op,
    python_rng,
    raised,
)

SIGNATURE = """\
class HashRing:
    def __init__(self, nodes: list[str], vnodes: int) -> None: ...
    def route(self, key: str) -> str: ...
    def add(self, node: str) -> None: ...
    def remove(self, node: str) -> None: ..."""

DOCSTRING = """\
A consistent hash ring with virtual nodes, to balance keys over nodes.

Each node owns `vnodes` points on a ring of positions, and a key goes to the
node owning the first point clockwise from the key's position, wrapping around
past the largest point. Positions come from a hash of the key, and of the node
name and point number; any hash that is stable across processes and machines
will do (MD5 or SHA-1 of the string, say). Python's built-in hash() is salted
per process: do not use it.

`route(key)` returns the name of a node on the ring. `add(node)` puts a node's
points on the ring (ValueError if it is already there); `remove(node)` takes
them off (KeyError if it is not there). Neither returns anything. The ring
never becomes empty. Aim for O(log(nodes * vnodes)) per route.

Judged on a seeded trace of routes (every key routed again after each change),
adds and removes of any node, for the properties of a consistent ring: every
key routes to a node on the ring; the same ring routes a key the same way every
time, in every process; adding a node moves only keys to that node, removing a
node moves only the keys it held; with many virtual nodes every node gets a fair
share of the keys (at least a quarter of an even split). Which node a key goes
to is up to your hash: routes are not compared with a reference ring."""

TEMPLATE = '''\
"""Drill hash_ring: write the `HashRing` class below; the judge replays a trace on it."""

import hashlib


def position(s: str) -> int:
    """Return the ring position of a key or of a node's point label."""
    return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")


class HashRing:
    """Each node owns `vnodes` points (say position(f"{node}#{i}")); keys go clockwise."""

    def __init__(self, nodes: list[str], vnodes: int) -> None:
        raise NotImplementedError("HashRing is not implemented yet")

    def route(self, key: str) -> str:
        """Return the node owning the first point clockwise from position(key), wrapping."""
        raise NotImplementedError

    def add(self, node: str) -> None:
        """Put the node's points on the ring (ValueError if already there)."""
        raise NotImplementedError

    def remove(self, node: str) -> None:
        """Take the node's points off the ring (KeyError if absent)."""
        raise NotImplementedError
'''


def position(s: str) -> int:
    """Return the ring position of a string: the first 8 bytes of its MD5, big-endian."""
    return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")


class HashRing:
    """Sorted point positions with a parallel list of owners; bisect to route."""

    def __init__(self, nodes: list[str], vnodes: int) -> None:
        self.vnodes = vnodes
        self.points: list[int] = []
        self.owners: list[str] = []
        self.nodes: set[str] = set()
        for node in nodes:
            self.add(node)

    def route(self, key: str) -> str:
        """Return the owner of the first point at or after the key's position, wrapping."""
        i = bisect.bisect_left(self.points, position(key))
        return self.owners[i % len(self.points)]

    def add(self, node: str) -> None:
        """Insert the node's points in order."""
        if node in self.nodes:
            raise ValueError(f"{node} is already on the ring")
        self.nodes.add(node)
        for i in range(self.vnodes):
            point = position(f"{node}#{i}")
            at = bisect.bisect_left(self.points, point)
            self.points.insert(at, point)
            self.owners.insert(at, node)

    def remove(self, node: str) -> None:
        """Drop the node's points."""
        if node not in self.nodes:
            raise KeyError(node)
        self.nodes.remove(node)
        keep = [
            (pt, owner) for pt, owner in zip(self.points, self.owners, strict=True) if owner != node
        ]
        self.points = [pt for pt, _ in keep]
        self.owners = [owner for _, owner in keep]


# Cases with at least this many virtual nodes and keys are also judged on balance.
BALANCE_MIN_VNODES = 20
BALANCE_MIN_KEYS = 400
BALANCE_FLOOR = 0.25


class HashRingDrill(Drill):
    """Consistent hash ring judged on the properties of a consistent ring, not on exact routes."""

    id = "hash_ring"
    title = "Consistent hash ring"
    entry = "HashRing"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    void_methods = frozenset({"add", "remove"})
    same_across_processes = True
    reference_impl = HashRing
    reference_imports = ("import bisect", "import hashlib")
    reference_helpers = (position,)
    bank_questions = (488,)
    public_cases = (
        Case("three_nodes", {"nodes": 3, "vnodes": 4, "keys": 12, "changes": 2}),
        Case("membership_changes", {"nodes": 4, "vnodes": 8, "keys": 30, "changes": 6}),
    )
    secret_cases = (
        Case("one_vnode", {"nodes": 5, "vnodes": 1, "keys": 40, "changes": 8}),
        Case("many_vnodes_balanced", {"nodes": 8, "vnodes": 50, "keys": 800, "changes": 4}),
        Case("remove_first_nodes", {"nodes": 6, "vnodes": 6, "keys": 60, "changes": 8, "drop": 1}),
        Case("node_comes_back", {"nodes": 4, "vnodes": 10, "keys": 60, "changes": 8, "back": 0.6}),
        Case("invalid_changes", {"nodes": 3, "vnodes": 5, "keys": 30, "changes": 10, "bad": 0.4}),
    )
    bench_cases = (
        Case("bench_40k_routes", {"nodes": 20, "vnodes": 100, "keys": 2000, "changes": 19}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace: every key routed, then a change, every key again, and so on.

        Changes add new nodes, bring removed ones back, remove any node (the first ones
        on the ring included, not only the last added), and now and then try an invalid add or
        remove. Some keys are routed twice in a row, to see the ring answer alike.
        """
        p = case.params
        rng = python_rng(self.id, case, seed)
        tag = rng.randrange(1 << 30)
        node_ids = iter(range(10_000))
        live = [f"node-{next(node_ids)}-{tag}" for _ in range(int(p["nodes"]))]
        initial = list(live)
        gone: list[str] = []
        keys = [f"user-{rng.randrange(1 << 40):x}" for _ in range(int(p["keys"]))]
        bad, back = float(p.get("bad", 0.1)), float(p.get("back", 0.3))
        drop_initial = bool(p.get("drop", 0))
        ops: list[tuple[str, tuple[object, ...]]] = []

        def route_all() -> None:
            order = list(keys)
            rng.shuffle(order)
            for key in order:
                ops.append(("route", (key,)))
                if rng.random() < 0.05:
                    ops.append(("route", (key,)))

        route_all()
        for _ in range(int(p["changes"])):
            roll = rng.random()
            if roll < bad:
                if rng.random() < 0.5:
                    ops.append(("add", (rng.choice(live),)))
                else:
                    absent = rng.choice(gone) if gone else f"node-absent-{rng.randrange(1000)}"
                    ops.append(("remove", (absent,)))
                continue  # an invalid change changes nothing: no need to route again
            if len(live) > 1 and (roll < bad + (1 - bad) / 2 or len(live) > 12):
                first_ones = [n for n in initial if n in live] if drop_initial else []
                node = rng.choice(first_ones or live)
                live.remove(node)
                gone.append(node)
                ops.append(("remove", (node,)))
            else:
                if gone and rng.random() < back:
                    node = gone.pop(rng.randrange(len(gone)))
                else:
                    node = f"node-{next(node_ids)}-{tag}"
                live.append(node)
                ops.append(("add", (node,)))
            route_all()
        return Trace((initial, int(p["vnodes"])), {}, ops)

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Judge the routes by the properties of a consistent ring; adds and removes by raising.

        `expected` (the reference's replay) only says which adds and removes must raise.
        """
        shape = check_trace_shape(got, expected)
        if shape is not None or not isinstance(inputs, Trace):
            return shape or "the judge lost the trace of this case"
        assert isinstance(got, list | tuple) and isinstance(expected, list)
        live = set(inputs.init_args[0])
        vnodes = int(inputs.init_args[1])
        current: dict[str, str] = {}
        before: dict[str, str] = {}
        change: tuple[str, str] | None = None

        def fail(i: int, problem: str) -> str:
            return f"{describe_trace_op(inputs, i)}: {problem}"

        for i, (name, args) in enumerate(inputs.ops):
            g, e = got[i], expected[i]
            if name in ("add", "remove"):
                problem = compare_void_result(g, e)
                if problem is not None:
                    return fail(i, problem)
                if raised(e):
                    continue
                unfair = self._unfair_share(current, live, vnodes)
                if unfair is not None:
                    return fail(i - 1, unfair)
                node = str(args[0])
                (live.add if name == "add" else live.discard)(node)
                before, current, change = {**before, **current}, {}, (name, node)
                continue
            key = str(args[0])
            if raised(g):
                return fail(i, f"raised {g[1]}, expected the name of a node on the ring")
            if not isinstance(g, str) or g not in live:
                nodes = ", ".join(sorted(live))
                return fail(i, f"returned {g!r}, which is not a node on the ring ({nodes})")
            if key in current and current[key] != g:
                return fail(
                    i,
                    f"returned {g!r}, but the same ring routed {key!r} to {current[key]!r} "
                    "just before: routing must be deterministic",
                )
            if key not in current and key in before and change is not None:
                problem = self._moved_wrongly(before[key], g, change)
                if problem is not None:
                    return fail(i, problem)
            current[key] = g
        return self._unfair_share(current, live, vnodes)

    @staticmethod
    def _moved_wrongly(old: str, new: str, change: tuple[str, str]) -> str | None:
        what, node = change
        if what == "add" and new not in (old, node):
            return (
                f"returned {new!r}, but before add({node!r}) the key went to {old!r}: adding a "
                f"node may only move keys to that node"
            )
        if what == "remove" and old != node and new != old:
            return (
                f"returned {new!r}, but before remove({node!r}) the key went to {old!r}, which "
                "is still on the ring: removing a node may only move the keys it held"
            )
        return None

    @staticmethod
    def _unfair_share(routes: dict[str, str], live: set[str], vnodes: int) -> str | None:
        if vnodes < BALANCE_MIN_VNODES or len(routes) < BALANCE_MIN_KEYS or not live:
            return None
        fair = len(routes) / len(live)
        counts = {node: 0 for node in live}
        for node in routes.values():
            counts[node] = counts.get(node, 0) + 1
        starved = min(counts, key=lambda n: counts[n])
        if counts[starved] >= BALANCE_FLOOR * fair:
            return None
        return (
            f"node {starved!r} got {counts[starved]} of {len(routes)} keys over {len(live)} nodes "
            f"with {vnodes} virtual nodes each (an even split is {fair:.0f}): the ring does not "
            "balance the load; are the points spread by a hash of the node name and point number?"
        )


DRILL = HashRingDrill()
