"""Repository functions for deliveries: which platform requests were already taken in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from bot.store.models import Delivery


async def record_deliveries(
    session: AsyncSession, *, deliveries: Sequence[tuple[str, str]], now: datetime
) -> set[tuple[str, str]]:
    """Remember deliveries (platform, id); return those that were not remembered before.

    One statement for a whole batch. The primary key decides races between processes: a row
    another process inserted first is skipped without an error that would end the transaction.
    """
    if not deliveries:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    rows = [
        {"platform": platform, "delivery_id": delivery_id, "received_at": now}
        for platform, delivery_id in dict.fromkeys(deliveries)
    ]
    statement = (
        insert(Delivery)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["platform", "delivery_id"])
        .returning(col(Delivery.platform), col(Delivery.delivery_id))
    )
    result = await session.execute(statement)
    return {(str(platform), str(delivery_id)) for platform, delivery_id in result.all()}


async def prune_deliveries(session: AsyncSession, *, received_before: datetime) -> int:
    """Forget deliveries received before a moment; return how many were forgotten."""
    result = await session.execute(
        delete(Delivery).where(col(Delivery.received_at) < received_before)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
