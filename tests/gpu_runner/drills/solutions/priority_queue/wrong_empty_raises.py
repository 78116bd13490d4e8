"""Mistake: pop on an empty queue raises instead of returning None."""

# expect: pop\(\) .*raised IndexError, expected None

import heapq
import itertools


class RequestQueue:
    def __init__(self, max_wait, clock):
        self.max_wait, self.clock = max_wait, clock
        self.heap = []
        self.fifo = []
        self.done = set()
        self.counter = itertools.count()

    def push(self, request_id, prompt_len):
        n = next(self.counter)
        heapq.heappush(self.heap, (prompt_len, n, request_id))
        self.fifo.append((self.clock(), n, request_id))

    def pop(self):
        while self.fifo[0][1] in self.done:
            self.fifo.pop(0)
        t, n, rid = self.fifo[0]
        if self.clock() - t <= self.max_wait:
            while self.heap[0][1] in self.done:
                heapq.heappop(self.heap)
            _, n, rid = heapq.heappop(self.heap)
        self.done.add(n)
        return rid
