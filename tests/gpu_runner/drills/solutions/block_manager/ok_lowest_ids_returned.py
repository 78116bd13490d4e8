"""Correct, written from the bank's wording: lowest free id first, and the methods whose
contract returns nothing return something anyway (the new block ids, the table).

Differs from the reference in the freedoms the contract leaves: which block ids a sequence
gets (a heap hands out the lowest, the reference a stack), what allocate, free and fork return,
and how reference counts are kept (a dict, dropped at zero).
"""

import heapq


class BlockManager:
    def __init__(self, n_blocks):
        self.free_heap = list(range(n_blocks))
        heapq.heapify(self.free_heap)
        self.ref_count = {}
        self.block_table = {}

    def _grab(self):
        block = heapq.heappop(self.free_heap)
        self.ref_count[block] = 1
        return block

    def _drop(self, block):
        self.ref_count[block] -= 1
        if not self.ref_count[block]:
            del self.ref_count[block]
            heapq.heappush(self.free_heap, block)

    def allocate(self, seq_id, n):
        if n > len(self.free_heap):
            raise MemoryError(f"need {n}, have {len(self.free_heap)}")
        new_blocks = [self._grab() for _ in range(n)]
        self.block_table.setdefault(seq_id, []).extend(new_blocks)
        return new_blocks

    def free(self, seq_id):
        blocks = self.block_table.pop(seq_id)
        for block in blocks:
            self._drop(block)
        return blocks

    def fork(self, src, dst):
        if src not in self.block_table:
            raise KeyError(src)
        if dst in self.block_table:
            raise ValueError(dst)
        shared = list(self.block_table[src])
        for block in shared:
            self.ref_count[block] += 1
        self.block_table[dst] = shared
        return shared

    def write(self, seq_id, index):
        table = self.block_table[seq_id]
        if index < 0 or index >= len(table):
            raise IndexError(index)
        old = table[index]
        if self.ref_count[old] == 1:
            return False
        if not self.free_heap:
            raise MemoryError("no block for the copy")
        table[index] = self._grab()
        self._drop(old)
        return True

    def free_count(self):
        return len(self.free_heap)
