"""The process heartbeat: each bot process says it is alive every few seconds.

A claim whose holder stopped beating is taken over at once instead of waiting out its lease, so
a killed and restarted bot resumes its own work within a few heartbeat intervals. Wiring is one
line in the composition root:

    heartbeat = await Heartbeat(sessions, clock, process_id=daily.holder).start()
    ...
    await heartbeat.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.store import processes as process_repo

log = logging.getLogger(__name__)

FORGET_AFTER = timedelta(days=8)  # longer than any missed-post grace, so "was it down?" works


def new_process_id() -> str:
    """Return an id for this process: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Heartbeat:
    """Register this process and renew its heartbeat row every `interval_s` seconds."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        process_id: str | None = None,
        interval_s: float = 5.0,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("the heartbeat interval must be positive")
        self._sessions = sessions
        self._clock = clock
        self.process_id = process_id or new_process_id()
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> Heartbeat:
        """Register the process now and beat in the background until `stop`."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            await process_repo.prune_processes(session, last_seen_before=now - FORGET_AFTER)
            await process_repo.register_process(
                session,
                process_id=self.process_id,
                host=socket.gethostname()[:100],
                pid=os.getpid(),
                now=now,
            )
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"heartbeat {self.process_id}")
        return self

    async def beat(self) -> None:
        """Renew the heartbeat once (registering again if the row was pruned)."""
        now = self._clock.now()
        async with self._sessions.begin() as session:
            if not await process_repo.beat(session, process_id=self.process_id, now=now):
                await process_repo.register_process(
                    session,
                    process_id=self.process_id,
                    host=socket.gethostname()[:100],
                    pid=os.getpid(),
                    now=now,
                )

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(self.interval_s)
            try:
                await self.beat()
            except Exception:  # a database hiccup must not end the heartbeat for good
                log.warning("heartbeat of %s failed; retrying", self.process_id, exc_info=True)

    async def stop(self) -> None:
        """Stop beating and record the stop, so this process's claims are taken over at once."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        try:
            async with self._sessions.begin() as session:
                await process_repo.mark_stopped(
                    session, process_id=self.process_id, now=self._clock.now()
                )
        except Exception:
            log.warning("could not record the stop of %s", self.process_id, exc_info=True)
