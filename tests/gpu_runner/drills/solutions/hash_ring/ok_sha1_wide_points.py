"""Correct, written from the bank's wording: SHA-1 positions on a 32-bit ring, other labels.

Differs from the reference wherever the contract leaves a choice: the hash (SHA-1, not MD5),
the ring size (32 bits), the point labels ("node:i"), the data layout (a dict of point to
owner beside a sorted list), and add/remove return something (the points they changed).
"""

import bisect
import hashlib


def ring_position(text):
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:8], 16)


class HashRing:
    def __init__(self, nodes, vnodes):
        self.replicas = vnodes
        self.owner_of = {}
        self.sorted_points = []
        for name in nodes:
            self.add(name)

    def _labels(self, node):
        return [ring_position(f"{node}:{i}") for i in range(self.replicas)]

    def route(self, key):
        at = bisect.bisect_left(self.sorted_points, ring_position(key))
        if at == len(self.sorted_points):
            at = 0
        return self.owner_of[self.sorted_points[at]]

    def add(self, node):
        if node in set(self.owner_of.values()):
            raise ValueError(f"{node} is on the ring")
        points = self._labels(node)
        for point in points:
            self.owner_of[point] = node
            bisect.insort(self.sorted_points, point)
        return points

    def remove(self, node):
        points = [p for p, owner in self.owner_of.items() if owner == node]
        if not points:
            raise KeyError(node)
        for point in points:
            del self.owner_of[point]
        self.sorted_points = sorted(self.owner_of)
        return len(points)
