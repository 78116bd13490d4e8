"""Correct: a plain list scanned on each pop (O(n), but the same decisions)."""


class RequestQueue:
    def __init__(self, max_wait, clock):
        self.max_wait, self.clock = max_wait, clock
        self.items = []  # (push time, arrival number, prompt length, id)
        self.n = 0

    def push(self, request_id, prompt_len):
        self.items.append((self.clock(), self.n, prompt_len, request_id))
        self.n += 1

    def pop(self):
        if not self.items:
            return None
        now = self.clock()
        starved = [it for it in self.items if now - it[0] > self.max_wait]
        if starved:
            pick = min(starved, key=lambda it: it[1])
        else:
            pick = min(self.items, key=lambda it: (it[2], it[1]))
        self.items.remove(pick)
        return pick[3]
