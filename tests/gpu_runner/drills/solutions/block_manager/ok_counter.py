"""Correct: a set of free blocks and a Counter of references."""

from collections import Counter


class BlockManager:
    def __init__(self, n_blocks):
        self.free_set = set(range(n_blocks))
        self.refs = Counter()
        self.tables = {}

    def allocate(self, seq_id, n):
        if n > len(self.free_set):
            raise MemoryError
        blocks = [self.free_set.pop() for _ in range(n)]
        self.refs.update(blocks)
        self.tables.setdefault(seq_id, []).extend(blocks)

    def _drop(self, block):
        self.refs[block] -= 1
        if self.refs[block] == 0:
            del self.refs[block]
            self.free_set.add(block)

    def free(self, seq_id):
        for block in self.tables.pop(seq_id):
            self._drop(block)

    def fork(self, src, dst):
        if src not in self.tables:
            raise KeyError(src)
        if dst in self.tables:
            raise ValueError(dst)
        self.tables[dst] = list(self.tables[src])
        self.refs.update(self.tables[dst])

    def write(self, seq_id, index):
        table = self.tables[seq_id]
        if index < 0 or index >= len(table):
            raise IndexError(index)
        if self.refs[table[index]] == 1:
            return False
        if not self.free_set:
            raise MemoryError
        fresh = self.free_set.pop()
        self.refs[fresh] = 1
        self._drop(table[index])
        table[index] = fresh
        return True

    def free_count(self):
        return len(self.free_set)
