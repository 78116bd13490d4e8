"""Time as a port: services ask a Clock, tests hand them one they can move."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Tell the time and wait; everything that waits or counts days takes one."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware (UTC)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait this many seconds of this clock's time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


class FakeClock:
    """A clock that moves only when told to (or when slept on), for tests and demos."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """Return the fake current time."""
        return self._now

    def advance(self, seconds: float = 0.0, **delta: float) -> None:
        """Move time forward."""
        self._now += timedelta(seconds=seconds, **delta)

    def set(self, when: datetime) -> None:
        """Jump to a point in time."""
        self._now = when.astimezone(UTC)

    async def sleep(self, seconds: float) -> None:
        """Advance instead of waiting, yielding to the loop once."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


class ScaledClock:
    """A real clock that runs `speed` times faster from a starting point: demos of schedules."""

    def __init__(self, start: datetime, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._start = start.astimezone(UTC)
        self._real_start = datetime.now(UTC)
        self.speed = speed

    def now(self) -> datetime:
        """Return the accelerated time."""
        return self._start + (datetime.now(UTC) - self._real_start) * self.speed

    async def sleep(self, seconds: float) -> None:
        """Sleep the scaled-down real time."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)
