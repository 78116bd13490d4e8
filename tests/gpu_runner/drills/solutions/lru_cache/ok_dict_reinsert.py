"""Correct: a plain dict keeps insertion order; pop and reinsert to refresh."""


class LRUCache:
    def __init__(self, capacity):
        self.capacity = capacity
        self.data = {}

    def get(self, key):
        if key not in self.data:
            return None
        value = self.data.pop(key)
        self.data[key] = value
        return value

    def put(self, key, value):
        self.data.pop(key, None)
        if len(self.data) >= self.capacity:
            del self.data[next(iter(self.data))]
        self.data[key] = value
