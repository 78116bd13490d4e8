"""Drill `hash_ring`: consistent hashing with virtual nodes."""

from __future__ import annotations

import bisect
import hashlib

from gpu_runner.calling import Trace
from gpu_runner.drills.base import Case, Drill, python_rng

SIGNATURE = """\
class HashRing:
    def __init__(self, nodes: list[str], vnodes: int) -> None: ...
    def route(self, key: str) -> str: ...
    def add(self, node: str) -> None: ...
    def remove(self, node: str) -> None: ..."""

DOCSTRING = """\
A consistent hash ring with virtual nodes.

Each node owns `vnodes` points on a ring of 64-bit positions, and a key goes
to the node owning the first point at or after the key's position, wrapping
around past the largest point.

Positions are fixed so every correct ring routes alike:
    position(s) = int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")
A key's position is position(key); node n's points are position(f"{n}#{i}")
for i in range(vnodes). `add(node)` adds a node's points (ValueError if it is
already on the ring); `remove(node)` removes them (KeyError if it is not).
Adding or removing a node moves only the keys whose point belongs to that node.
Python's built-in hash() is salted per process: do not use it. The ring never
becomes empty. Aim for O(log(nodes * vnodes)) per route.

Judged on a seeded trace of routes, adds and removes: every route must name the
reference's node."""

TEMPLATE = '''\
"""Drill hash_ring: write the `HashRing` class below; the judge replays a trace on it."""

import hashlib


def position(s: str) -> int:
    """Return the ring position of a key or of a node's point label."""
    return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")


class HashRing:
    """Each node owns points position(f"{node}#{i}"), i < vnodes; keys go clockwise."""

    def __init__(self, nodes: list[str], vnodes: int) -> None:
        raise NotImplementedError("HashRing is not implemented yet")

    def route(self, key: str) -> str:
        """Return the node owning the first point at or after position(key), wrapping."""
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


class HashRingDrill(Drill):
    """Consistent hash ring judged on a trace of routes and membership changes."""

    id = "hash_ring"
    title = "Consistent hash ring"
    entry = "HashRing"
    kind = "class"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = TEMPLATE
    needs_torch = False
    upcast_reference = False
    reference_impl = HashRing
    reference_imports = ("import bisect", "import hashlib")
    reference_helpers = (position,)
    bank_questions = (488,)
    public_cases = (
        Case("three_nodes", {"nodes": 3, "vnodes": 4, "n_ops": 40}),
        Case("membership_changes", {"nodes": 4, "vnodes": 8, "n_ops": 80, "churn": 0.1}),
    )
    secret_cases = (
        Case("one_vnode", {"nodes": 5, "vnodes": 1, "n_ops": 150, "churn": 0.1}),
        Case("many_vnodes", {"nodes": 8, "vnodes": 50, "n_ops": 400, "churn": 0.05}),
        Case("point_labels_as_keys", {"nodes": 4, "vnodes": 6, "n_ops": 200, "label_keys": 0.3}),
        Case("invalid_changes", {"nodes": 3, "vnodes": 5, "n_ops": 150, "churn": 0.2, "bad": 0.3}),
    )
    bench_cases = (
        Case("bench_50k_routes", {"nodes": 20, "vnodes": 100, "n_ops": 50_000, "churn": 0.0005}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> Trace:
        """Return a seeded trace: mostly routes, with adds and removes (some invalid)."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        tag = rng.randrange(1 << 30)
        node_ids = iter(range(10_000))
        live = [f"node-{next(node_ids)}-{tag}" for _ in range(int(p["nodes"]))]
        gone: list[str] = []
        vnodes = int(p["vnodes"])
        churn, bad = float(p.get("churn", 0.0)), float(p.get("bad", 0.0))
        label_keys = float(p.get("label_keys", 0.0))
        ops: list[tuple[str, tuple[object, ...]]] = []
        init = (list(live), vnodes)
        while len(ops) < int(p["n_ops"]):
            roll = rng.random()
            if roll < churn:
                if rng.random() < bad:
                    if rng.random() < 0.5:
                        ops.append(("add", (rng.choice(live),)))
                    else:
                        ops.append(("remove", (f"node-absent-{rng.randrange(1000)}",)))
                elif len(live) > 1 and rng.random() < 0.5:
                    node = live.pop(rng.randrange(len(live)))
                    gone.append(node)
                    ops.append(("remove", (node,)))
                else:
                    # A removed node may come back; it must own the same points again.
                    if gone and rng.random() < 0.5:
                        back = gone.pop()
                    else:
                        back = f"node-{next(node_ids)}-{tag}"
                    live.append(back)
                    ops.append(("add", (back,)))
            elif rng.random() < label_keys:
                # A key equal to a point label sits exactly on that point: "at or after".
                node = rng.choice(live)
                ops.append(("route", (f"{node}#{rng.randrange(vnodes)}",)))
            else:
                ops.append(("route", (f"user-{rng.randrange(1 << 40):x}",)))
        return Trace(init, {}, ops)


DRILL = HashRingDrill()
