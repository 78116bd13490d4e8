"""Correct too: the first point strictly after the key; the contract leaves ties open."""

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
        i = bisect.bisect_right(self.ring, (_pos(key), chr(0x10FFFF)))
        return self.ring[i % len(self.ring)][1]

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
