"""Exactly once for what platforms deliver: a retried or repeated request is taken in once.

Slack retries an event it thinks was not acknowledged (same `event_id`) and a network can
repeat a command or a click (same `trigger_id`). Each face asks `first_delivery` before acting;
the answer comes from the database, so it holds across restarts and across bot processes.

A face asks before it acknowledges, so the question must be quick under load: requests that
arrive while a write is in flight are written together in the next one (one transaction for a
burst, not one each), which keeps SQLite's single writer from queueing every request.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.store import deliveries as repo

log = logging.getLogger(__name__)

# Slack refuses a request signed more than five minutes ago, so a retry can come at most that
# late; kept twice as long, a delivery is remembered for every retry that can still arrive.
DEFAULT_KEEP = timedelta(minutes=10)
DEFAULT_PRUNE_EVERY = timedelta(minutes=1)


class DeliveryService:
    """Remembers deliveries for a while and tells a first delivery from a repeat."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        keep: timedelta = DEFAULT_KEEP,
        prune_every: timedelta = DEFAULT_PRUNE_EVERY,
    ) -> None:
        if keep < timedelta(minutes=5):
            raise ValueError("deliveries must be kept at least the 5-minute signature window")
        self._sessions = sessions
        self._clock = clock
        self.keep = keep
        self._prune_every = prune_every
        self._next_prune: datetime | None = None
        self._waiting: list[tuple[tuple[str, str], asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def first_delivery(self, platform: str, delivery_id: str) -> bool:
        """Record a delivery; True the first time it arrives, False for every repeat."""
        key = (platform, delivery_id[:255])
        waiter: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((key, waiter))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting())
        return await waiter

    async def _write_waiting(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, []
            try:
                fresh = await self._record([key for key, _ in batch])
            except Exception as exc:
                for _, waiter in batch:
                    if not waiter.done():
                        waiter.set_exception(exc)
                continue
            for key, waiter in batch:
                # The first of several identical keys in one batch is the delivery; the rest
                # are its repeats.
                first = key in fresh
                fresh.discard(key)
                if not waiter.done():
                    waiter.set_result(first)

    async def _record(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        now = self._clock.now()
        async with self._sessions() as session:
            fresh = await repo.record_deliveries(session, deliveries=keys, now=now)
            if self._next_prune is None or now >= self._next_prune:
                forgotten = await repo.prune_deliveries(session, received_before=now - self.keep)
                self._next_prune = now + self._prune_every
                if forgotten:
                    log.debug("forgot %d deliveries older than %s", forgotten, self.keep)
            await session.commit()
        return fresh
