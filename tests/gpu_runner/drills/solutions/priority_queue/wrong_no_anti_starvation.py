"""Mistake: no max_wait: long prompts starve while short ones keep coming."""

# expect: op \d+ pop\(\).*returned 'req-

import heapq
import itertools


class RequestQueue:
    def __init__(self, max_wait, clock):
        self.heap = []
        self.counter = itertools.count()

    def push(self, request_id, prompt_len):
        heapq.heappush(self.heap, (prompt_len, next(self.counter), request_id))

    def pop(self):
        return heapq.heappop(self.heap)[2] if self.heap else None
