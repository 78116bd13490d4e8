"""Exactly once for what platforms deliver: a retried or repeated request is taken in once.

Slack retries an event it thinks was not acknowledged (same `event_id`) and a network can
repeat a command or a click (same `trigger_id`). Each face asks `first_delivery` before acting;
the answer comes from the database, so it holds across restarts and across bot processes.
"""

from __future__ import annotations

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

    async def first_delivery(self, platform: str, delivery_id: str) -> bool:
        """Record a delivery; True the first time it arrives, False for every repeat."""
        now = self._clock.now()
        async with self._sessions() as session:
            fresh = await repo.record_delivery(
                session, platform=platform, delivery_id=delivery_id[:255], now=now
            )
            if self._next_prune is None or now >= self._next_prune:
                forgotten = await repo.prune_deliveries(session, received_before=now - self.keep)
                self._next_prune = now + self._prune_every
                if forgotten:
                    log.debug("forgot %d deliveries older than %s", forgotten, self.keep)
            await session.commit()
        return fresh
