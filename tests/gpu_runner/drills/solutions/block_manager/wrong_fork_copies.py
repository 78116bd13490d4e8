"""Mistake: fork copies every block eagerly."""

# expect: case fork_and_write .*op \d+


class BlockManager:
    def __init__(self, n_blocks):
        self.free_blocks = list(range(n_blocks))
        self.refs = [0] * n_blocks
        self.tables = {}

    def allocate(self, seq_id, n):
        if n > len(self.free_blocks):
            raise MemoryError
        table = self.tables.setdefault(seq_id, [])
        for _ in range(n):
            block = self.free_blocks.pop()
            self.refs[block] = 1
            table.append(block)

    def free(self, seq_id):
        for block in self.tables.pop(seq_id):
            self.refs[block] -= 1
            if self.refs[block] == 0:
                self.free_blocks.append(block)

    def fork(self, src, dst):
        table = self.tables[src]
        if dst in self.tables:
            raise ValueError(dst)
        if len(table) > len(self.free_blocks):
            raise MemoryError
        copy = []
        for _ in table:
            block = self.free_blocks.pop()
            self.refs[block] = 1
            copy.append(block)
        self.tables[dst] = copy

    def write(self, seq_id, index):
        table = self.tables[seq_id]
        if not 0 <= index < len(table):
            raise IndexError(index)
        block = table[index]
        if self.refs[block] == 1:
            return False
        if not self.free_blocks:
            raise MemoryError
        fresh = self.free_blocks.pop()
        self.refs[fresh] = 1
        self.refs[block] -= 1
        table[index] = fresh
        return True

    def free_count(self):
        return len(self.free_blocks)
