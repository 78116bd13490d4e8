"""Mistake: no ring at all; every key goes to the first node in name order.

Consistent in a degenerate way (a change only ever moves keys to or from that first node),
so only the load-balance property shows it.
"""

# expect: case many_vnodes_balanced .*does not balance the load


class HashRing:
    def __init__(self, nodes, vnodes):
        self.nodes = set(nodes)

    def route(self, key):
        return min(self.nodes)

    def add(self, node):
        if node in self.nodes:
            raise ValueError(node)
        self.nodes.add(node)

    def remove(self, node):
        if node not in self.nodes:
            raise KeyError(node)
        self.nodes.remove(node)
