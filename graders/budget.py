"""Per-cohort daily LLM token budgets: in memory for one process, in Redis for many."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

Today = Callable[[], date]


def utc_today() -> date:
    """Return today's date in UTC (pass a cohort-zone function to count the cohort's days)."""
    return datetime.now(UTC).date()


@runtime_checkable
class TokenBudget(Protocol):
    """How many LLM tokens a key (a cohort) may still spend today."""

    async def remaining(self, key: str) -> int:
        """Return the tokens the key may still spend today (0 when spent)."""
        ...

    async def spend(self, key: str, tokens: int) -> int:
        """Record tokens spent by the key today and return today's total."""
        ...


class MemoryTokenBudget:
    """A daily token budget kept in this process."""

    def __init__(self, daily_limit: int, *, today: Today = utc_today) -> None:
        if daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")
        self.daily_limit = daily_limit
        self._today = today
        self._used: dict[tuple[str, date], int] = {}

    async def remaining(self, key: str) -> int:
        """Return the tokens the key may still spend today."""
        return max(0, self.daily_limit - self._used.get((key, self._today()), 0))

    async def spend(self, key: str, tokens: int) -> int:
        """Record tokens spent by the key today and return today's total."""
        # No await in here, so no other task can interleave with the update.
        day = self._today()
        for stale in [k for k in self._used if k[1] != day]:
            del self._used[stale]
        total = self._used.get((key, day), 0) + max(0, tokens)
        self._used[(key, day)] = total
        return total


class RedisTokenBudget:
    """A daily token budget shared by every process through Redis (INCRBY on a dated key)."""

    def __init__(
        self,
        redis: Any,
        daily_limit: int,
        *,
        today: Today = utc_today,
        prefix: str = "studybot:grader:tokens",
    ) -> None:
        if daily_limit < 0:
            raise ValueError("daily_limit must be >= 0")
        self._redis = redis
        self.daily_limit = daily_limit
        self._today = today
        self._prefix = prefix

    @classmethod
    def from_url(cls, url: str, daily_limit: int, **kwargs: Any) -> RedisTokenBudget:
        """Connect to Redis by URL."""
        import redis.asyncio as aioredis

        return cls(aioredis.Redis.from_url(url), daily_limit, **kwargs)

    def _key(self, key: str) -> str:
        return f"{self._prefix}:{key}:{self._today().isoformat()}"

    async def remaining(self, key: str) -> int:
        """Return the tokens the key may still spend today."""
        used = await self._redis.get(self._key(key))
        return max(0, self.daily_limit - int(used or 0))

    async def spend(self, key: str, tokens: int) -> int:
        """Record tokens spent by the key today and return today's total."""
        name = self._key(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.incrby(name, max(0, tokens))
        # Two days, so a counter outlives its day in every time zone and then disappears.
        pipe.expire(name, 2 * 86_400)
        total, _ = await pipe.execute()
        return int(total)

    async def aclose(self) -> None:
        """Close the Redis connection."""
        await self._redis.aclose()
