"""Mistake: hash modulo the node count, which remaps almost every key."""

# expect: op \d+ route\(

import hashlib


class HashRing:
    def __init__(self, nodes, vnodes):
        self.members = sorted(nodes)

    def route(self, key):
        h = int.from_bytes(hashlib.md5(key.encode()).digest()[:8], "big")
        return self.members[h % len(self.members)]

    def add(self, node):
        if node in self.members:
            raise ValueError(node)
        self.members = sorted(self.members + [node])

    def remove(self, node):
        if node not in self.members:
            raise KeyError(node)
        self.members.remove(node)
