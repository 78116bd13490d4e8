"""Correct: rebuild a sorted list of (point, node) on every change."""

import bisect
import hashlib


def _pos(s):
    return int.from_bytes(hashlib.md5(s.encode()).digest()[:8], "big")


class HashRing:
    def __init__(self, nodes, vnodes):
        self.vnodes = vnodes
        self.members = list(nodes)
        self._rebuild()

    def _rebuild(self):
        ring = sorted((_pos(f"{n}#{i}"), n) for n in self.members for i in range(self.vnodes))
        self.keys = [p for p, _ in ring]
        self.owner = [n for _, n in ring]

    def route(self, key):
        i = bisect.bisect_left(self.keys, _pos(key))
        return self.owner[0] if i == len(self.keys) else self.owner[i]

    def add(self, node):
        if node in self.members:
            raise ValueError(node)
        self.members.append(node)
        self._rebuild()

    def remove(self, node):
        if node not in self.members:
            raise KeyError(node)
        self.members.remove(node)
        self._rebuild()
