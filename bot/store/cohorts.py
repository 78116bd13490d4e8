"""Repository functions for cohorts and members."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.domain.members import display_name_to_keep
from bot.messages import Channel
from bot.store.models import Cohort, Member
from bot.store.types import utcnow


async def get_cohort(session: AsyncSession, *, cohort_id: int) -> Cohort | None:
    """Return a cohort by id."""
    return await session.get(Cohort, cohort_id)


async def find_cohort_in(session: AsyncSession, *, channel: Channel) -> Cohort | None:
    """Return the cohort bound to a channel, if any."""
    result = await session.execute(
        select(Cohort).where(
            Cohort.platform == channel.platform,
            Cohort.workspace_id == channel.workspace_id,
            Cohort.channel_id == channel.channel_id,
        )
    )
    return result.scalars().first()


async def list_cohorts(
    session: AsyncSession, *, include_paused: bool = True, platform: str | None = None
) -> Sequence[Cohort]:
    """Return cohorts ordered by id."""
    query = select(Cohort).order_by(col(Cohort.id))
    if not include_paused:
        query = query.where(col(Cohort.paused).is_(False))
    if platform:
        query = query.where(Cohort.platform == platform)
    return (await session.execute(query)).scalars().all()


async def list_workspace_cohorts(
    session: AsyncSession, *, platform: str, workspace_id: str
) -> Sequence[Cohort]:
    """Return the cohorts of one guild or workspace."""
    result = await session.execute(
        select(Cohort)
        .where(Cohort.platform == platform, Cohort.workspace_id == workspace_id)
        .order_by(col(Cohort.id))
    )
    return result.scalars().all()


async def update_cohort(session: AsyncSession, *, cohort: Cohort, **changes: Any) -> Cohort:
    """Apply changes to a cohort and stamp it."""
    for key, value in changes.items():
        setattr(cohort, key, value)
    cohort.updated_at = utcnow()
    session.add(cohort)
    await session.flush()
    return cohort


async def get_member(
    session: AsyncSession, *, cohort_id: int, platform_user_id: str
) -> Member | None:
    """Return a cohort's member by platform user id."""
    result = await session.execute(
        select(Member).where(
            Member.cohort_id == cohort_id, Member.platform_user_id == platform_user_id
        )
    )
    return result.scalars().first()


async def list_members(
    session: AsyncSession, *, cohort_id: int, active_only: bool = True, admins_only: bool = False
) -> Sequence[Member]:
    """Return a cohort's members."""
    query = select(Member).where(Member.cohort_id == cohort_id).order_by(col(Member.id))
    if active_only:
        query = query.where(col(Member.active).is_(True))
    if admins_only:
        query = query.where(col(Member.is_admin).is_(True))
    return (await session.execute(query)).scalars().all()


async def upsert_member(
    session: AsyncSession,
    *,
    cohort_id: int,
    platform_user_id: str,
    display_name: str = "",
    is_admin: bool | None = None,
) -> Member:
    """Add a member or reactivate one who left (an explicit join); keep their history.

    A name the face offers replaces the stored one, unless it is only the raw user id.
    """
    member = await get_member(session, cohort_id=cohort_id, platform_user_id=platform_user_id)
    if member is None:
        member = Member(
            cohort_id=cohort_id,
            platform_user_id=platform_user_id,
            display_name=display_name_to_keep("", display_name, platform_user_id),
            is_admin=bool(is_admin),
        )
    else:
        member.active = True
        member.display_name = display_name_to_keep(
            member.display_name, display_name, platform_user_id
        )
        if is_admin is not None:
            member.is_admin = is_admin
    session.add(member)
    await session.flush()
    return member


async def members_of_user(
    session: AsyncSession, *, platform: str, platform_user_id: str
) -> Sequence[Member]:
    """Return every membership of one platform user."""
    result = await session.execute(
        select(Member)
        .join(Cohort, col(Cohort.id) == col(Member.cohort_id))
        .where(Cohort.platform == platform, Member.platform_user_id == platform_user_id)
    )
    return result.scalars().all()
