"""Correct: a list as the queue, remaining-token countdowns, retire at the end of each step."""


class ContinuousBatcher:
    def __init__(self, max_num_seqs):
        self.cap = max_num_seqs
        self.queue = []
        self.left = {}

    def add(self, seq_id, max_new_tokens):
        self.queue.append([seq_id, max_new_tokens])

    def step(self, eos):
        for s in eos:
            self.left.pop(s, None)
        free = self.cap - len(self.left)
        admitted, self.queue = self.queue[:free], self.queue[free:]
        self.left.update((s, n) for s, n in admitted)
        batch = sorted(self.left, reverse=True)
        for s in batch:
            self.left[s] -= 1
            if self.left[s] == 0:
                del self.left[s]
        return batch
