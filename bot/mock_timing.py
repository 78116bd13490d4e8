"""The mock timer beside the scheduler: it starts once the faces have their publishers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from bot.services.mocks import MockTimers

if TYPE_CHECKING:
    from bot.app import StudyBot


class Startable(Protocol):
    """What `serve` starts once the faces are ready (the scheduler)."""

    async def start(self) -> None:
        """Start."""
        ...

    async def stop(self) -> None:
        """Stop."""
        ...


class WithMockTimers:
    """A scheduler that also runs this process's mock timer (re-arming every open room)."""

    def __init__(self, bot: StudyBot, scheduler: Startable) -> None:
        self._scheduler = scheduler
        self._timers = MockTimers(bot.mocks, bot.clock, tick_s=bot.settings.mock.timer_tick_s)
        _ = bot.solo  # solo rooms get their interviewer's prompts and scorecard from the timer

    async def start(self) -> None:
        """Start the scheduler, then the mock timer."""
        await self._scheduler.start()
        self._timers.start()

    async def stop(self) -> None:
        """Stop the mock timer, then the scheduler."""
        await self._timers.stop()
        await self._scheduler.stop()


def with_mock_timers(bot: StudyBot, scheduler: Startable) -> WithMockTimers:
    """Return the scheduler with this process's mock timer beside it."""
    return WithMockTimers(bot, scheduler)
