"""Correct: SET NX EX, then INCRBY; a rejected request is given back."""


class TenantQuota:
    """Correct: SET NX EX first (the key is born with its TTL), then INCRBY; refunds rejects."""

    def __init__(self, redis, limit, window_s, clock):
        self.r, self.limit, self.w, self.clock = redis, limit, window_s, clock

    def consume(self, tenant, tokens):
        window = int(self.clock()) // self.w
        key = f"q:{window}:{tenant}"
        self.r.set(key, 0, ex=self.w + 1, nx=True)
        if self.r.incrby(key, tokens) > self.limit:
            self.r.decrby(key, tokens)
            return False
        return True
