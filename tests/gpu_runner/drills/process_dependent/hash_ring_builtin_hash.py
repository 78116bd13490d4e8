"""Mistake: Python's salted hash(): every process routes differently."""

# Consistent within one process, so only a replay in a second process shows the mistake.

import bisect


class HashRing:
    def __init__(self, nodes, vnodes):
        self.vnodes = vnodes
        self.ring = []
        self.members = set()
        for n in nodes:
            self.add(n)

    def route(self, key):
        points = [p for p, _ in self.ring]
        i = bisect.bisect_left(points, hash(key))
        return self.ring[i % len(self.ring)][1]

    def add(self, node):
        if node in self.members:
            raise ValueError(node)
        self.members.add(node)
        for i in range(self.vnodes):
            bisect.insort(self.ring, (hash(f"{node}#{i}"), node))

    def remove(self, node):
        if node not in self.members:
            raise KeyError(node)
        self.members.discard(node)
        self.ring = [(p, n) for p, n in self.ring if n != node]
