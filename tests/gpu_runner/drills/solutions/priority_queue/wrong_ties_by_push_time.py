"""Mistake: ties broken by push time, then id: two requests pushed at the same instant go by id."""

# expect: op \d+ pop\(\).*returned 'req-

import heapq
from collections import deque


class RequestQueue:
    def __init__(self, max_wait, clock):
        self.max_wait, self.clock = max_wait, clock
        self.heap, self.fifo, self.done = [], deque(), set()

    def push(self, request_id, prompt_len):
        heapq.heappush(self.heap, (prompt_len, self.clock(), request_id))
        self.fifo.append((self.clock(), request_id))

    def pop(self):
        while self.fifo and self.fifo[0][1] in self.done:
            self.fifo.popleft()
        if not self.fifo:
            return None
        t, rid = self.fifo[0]
        if self.clock() - t <= self.max_wait:
            while self.heap[0][2] in self.done:
                heapq.heappop(self.heap)
            rid = heapq.heappop(self.heap)[2]
        self.done.add(rid)
        return rid
