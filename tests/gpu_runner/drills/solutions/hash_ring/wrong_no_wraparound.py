"""Mistake: does not wrap past the largest point."""

# expect: route\(.*raised IndexError, expected the name of a node

import bisect
import hashlib


def _pos(s):
    return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")


class HashRing:
    def __init__(self, nodes, vnodes):
        self.vnodes = vnodes
        self.ring = []
        self.members = set()
        for n in nodes:
            self.add(n)

    def route(self, key):
        points = [p for p, _ in self.ring]
        return self.ring[bisect.bisect_left(points, _pos(key))][1]

    def add(self, node):
        if node in self.members:
            raise ValueError(node)
        self.members.add(node)
        for i in range(self.vnodes):
            bisect.insort(self.ring, (_pos(f"{node}#{i}"), node))

    def remove(self, node):
        if node not in self.members:
            raise KeyError(node)
        self.members.discard(node)
        self.ring = [(p, n) for p, n in self.ring if n != node]
