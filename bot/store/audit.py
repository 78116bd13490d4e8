"""Repository functions for the admin audit trail and the admin's per-member data."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.models import AdminAction


async def record_action(
    session: AsyncSession,
    *,
    cohort_id: int | None,
    platform: str,
    actor_user_id: str,
    action: str,
    target: str = "",
    detail: dict[str, Any] | None = None,
    now: datetime,
) -> AdminAction:
    """Add one admin action to the trail (the caller commits it with the action's own work)."""
    row = AdminAction(
        cohort_id=cohort_id,
        platform=platform,
        actor_user_id=actor_user_id,
        action=action,
        target=target,
        detail=detail or {},
        created_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def list_actions(
    session: AsyncSession, *, cohort_id: int, limit: int = 20
) -> Sequence[AdminAction]:
    """Return the cohort's latest admin actions, newest first."""
    result = await session.execute(
        select(AdminAction)
        .where(AdminAction.cohort_id == cohort_id)
        .order_by(col(AdminAction.id).desc())
        .limit(limit)
    )
    return result.scalars().all()
