"""Per-cohort daily LLM token budgets: in memory for one process, in Redis for many.

Every LLM request reserves what it may cost (its prompt and its output limit) before it is sent,
atomically against the limit, and settles to what it really cost after. So neither a retry nor
several grades at once can spend past the day's limit: a request that does not fit is not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol, runtime_checkable

Today = Callable[[], date]


def utc_today() -> date:
    """Return today's date in UTC (pass a cohort-zone function to count the cohort's days)."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Reservation:
    """Tokens set aside for one request, on one day's counter, until it is settled."""

    key: str
    day: date
    tokens: int


@runtime_checkable
class TokenBudget(Protocol):
    """How many LLM tokens a key (a cohort) may still spend today."""

    async def remaining(self, key: str) -> int:
        """Return the tokens the key may still spend today (0 when spent)."""
        ...

    async def spend(self, key: str, tokens: int) -> int:
        """Record tokens spent by the key today and return today's total."""
        ...

    async def reserve(self, key: str, tokens: int) -> Reservation | None:
        """Set tokens aside for one request if they fit today's limit; None when they do not."""
        ...

    async def settle(self, reservation: Reservation, used: int) -> None:
        """Replace a reservation by what the request really used (0 when nothing was spent)."""
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

    async def reserve(self, key: str, tokens: int) -> Reservation | None:
        """Set tokens aside for one request if they fit today's limit; None when they do not."""
        # Check and add happen with no await between them, so concurrent grades cannot both fit.
        day = self._today()
        used = self._used.get((key, day), 0)
        tokens = max(0, tokens)
        if used + tokens > self.daily_limit:
            return None
        self._used[(key, day)] = used + tokens
        return Reservation(key=key, day=day, tokens=tokens)

    async def settle(self, reservation: Reservation, used: int) -> None:
        """Replace a reservation by what the request really used."""
        slot = (reservation.key, reservation.day)
        if slot not in self._used:
            return  # the day is over and its counter gone
        self._used[slot] = max(0, self._used[slot] + max(0, used) - reservation.tokens)


# Reserve: add the tokens only if the total stays within the limit, in one atomic step.
_RESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local want = tonumber(ARGV[1])
if used + want > tonumber(ARGV[2]) then return -1 end
local total = redis.call('INCRBY', KEYS[1], want)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return total
"""
# Settle: move the counter by (used - reserved), never below zero.
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local total = redis.call('INCRBY', KEYS[1], tonumber(ARGV[1]))
if total < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') total = 0 end
return total
"""
# Two days, so a counter outlives its day in every time zone and then disappears.
_COUNTER_TTL_S = 2 * 86_400


class RedisTokenBudget:
    """A daily token budget shared by every process through Redis (a dated counter, Lua)."""

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

    def _key(self, key: str, day: date | None = None) -> str:
        return f"{self._prefix}:{key}:{(day or self._today()).isoformat()}"

    async def remaining(self, key: str) -> int:
        """Return the tokens the key may still spend today."""
        used = await self._redis.get(self._key(key))
        return max(0, self.daily_limit - int(used or 0))

    async def spend(self, key: str, tokens: int) -> int:
        """Record tokens spent by the key today and return today's total."""
        name = self._key(key)
        pipe = self._redis.pipeline(transaction=True)
        pipe.incrby(name, max(0, tokens))
        pipe.expire(name, _COUNTER_TTL_S)
        total, _ = await pipe.execute()
        return int(total)

    async def reserve(self, key: str, tokens: int) -> Reservation | None:
        """Set tokens aside for one request if they fit today's limit; None when they do not."""
        day = self._today()
        tokens = max(0, tokens)
        total = await self._redis.eval(
            _RESERVE, 1, self._key(key, day), tokens, self.daily_limit, _COUNTER_TTL_S
        )
        if int(total) < 0:
            return None
        return Reservation(key=key, day=day, tokens=tokens)

    async def settle(self, reservation: Reservation, used: int) -> None:
        """Replace a reservation by what the request really used."""
        delta = max(0, used) - reservation.tokens
        if delta:
            await self._redis.eval(_SETTLE, 1, self._key(reservation.key, reservation.day), delta)

    async def aclose(self) -> None:
        """Close the Redis connection."""
        await self._redis.aclose()
