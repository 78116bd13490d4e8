"""Deliveries: a platform's retry or repeat is recognised, across processes, for long enough."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.services.deliveries import DeliveryService
from bot.store.models import Delivery


def _clock() -> FakeClock:
    return FakeClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


async def test_the_first_delivery_counts_and_every_repeat_does_not(db: Any) -> None:
    service = DeliveryService(db.sessions, _clock())
    assert await service.first_delivery("slack", "event:Ev1") is True
    assert await service.first_delivery("slack", "event:Ev1") is False
    assert await service.first_delivery("slack", "event:Ev2") is True
    assert await service.first_delivery("discord", "event:Ev1") is True  # another platform


async def test_another_process_recognises_a_repeat(db: Any) -> None:
    clock = _clock()
    one, two = DeliveryService(db.sessions, clock), DeliveryService(db.sessions, clock)
    assert await one.first_delivery("slack", "trigger:1.2.3") is True
    assert await two.first_delivery("slack", "trigger:1.2.3") is False


async def test_concurrent_deliveries_of_one_request_count_once(db: Any) -> None:
    services = [DeliveryService(db.sessions, _clock()) for _ in range(8)]
    results = await asyncio.gather(*(s.first_delivery("slack", "event:race") for s in services))
    assert sorted(results) == [False] * 7 + [True]


async def test_a_delivery_is_kept_past_the_signature_window_then_forgotten(db: Any) -> None:
    clock = _clock()
    service = DeliveryService(db.sessions, clock)
    assert await service.first_delivery("slack", "event:old") is True
    clock.advance(minutes=5, seconds=1)  # a retry signed at the edge of the window
    assert await service.first_delivery("slack", "event:old") is False
    clock.advance(minutes=service.keep.total_seconds() / 60)
    assert await service.first_delivery("slack", "event:new") is True  # prunes on the way
    async with db.sessions() as session:
        kept = (await session.execute(select(Delivery.delivery_id))).scalars().all()
    assert sorted(kept) == ["event:new"]


def test_keeping_deliveries_shorter_than_the_signature_window_is_refused(db: Any) -> None:
    with pytest.raises(ValueError, match="5-minute"):
        DeliveryService(db.sessions, _clock(), keep=timedelta(minutes=4))


async def test_a_burst_is_written_together_and_a_key_twice_in_it_counts_once(db: Any) -> None:
    opened = 0

    def counting_sessions() -> Any:
        nonlocal opened
        opened += 1
        return db.sessions()

    service = DeliveryService(counting_sessions, _clock())  # type: ignore[arg-type]
    keys = [f"event:burst{i}" for i in range(20)] + ["event:burst3"]
    results = await asyncio.gather(*(service.first_delivery("slack", k) for k in keys))
    assert results == [True] * 20 + [False]
    assert opened <= 2  # the first request's write, then everything that queued behind it
