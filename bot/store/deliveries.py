"""Repository functions for deliveries: which platform requests were already taken in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.store.models import Delivery


async def record_delivery(
    session: AsyncSession, *, platform: str, delivery_id: str, now: datetime
) -> bool:
    """Remember a delivery; False when it was remembered already (a retry or a repeat).

    The primary key decides the race between two processes: the insert that loses does
    nothing and reports so, without an error that would end the transaction.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(Delivery)
        .values(platform=platform, delivery_id=delivery_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["platform", "delivery_id"])
    )
    result = await session.execute(statement)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def prune_deliveries(session: AsyncSession, *, received_before: datetime) -> int:
    """Forget deliveries received before a moment; return how many were forgotten."""
    result = await session.execute(
        delete(Delivery).where(Delivery.received_at < received_before)  # type: ignore[arg-type]
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
