"""Mistake: ignores EOS: a sequence runs until max_new_tokens."""

# expect: op \d+ step\(.*returned

from collections import deque


class ContinuousBatcher:
    def __init__(self, max_num_seqs):
        self.max_num_seqs = max_num_seqs
        self.waiting = deque()
        self.running = {}

    def add(self, seq_id, max_new_tokens):
        self.waiting.append((seq_id, max_new_tokens))

    def step(self, eos):
        for s in list(self.running):
            done, limit = self.running[s]
            if done >= limit:
                del self.running[s]
        while self.waiting and len(self.running) < self.max_num_seqs:
            s, limit = self.waiting.popleft()
            self.running[s] = [0, limit]
        for state in self.running.values():
            state[0] += 1
        return list(self.running)
