"""Cohorts: set-up, membership, pause/resume/skip, status, member time zones."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain.curriculum import (
    day_to_show,
    describe_weekdays,
    next_slot,
    parse_weekdays,
    schedule_of,
    today_day,
)
from bot.domain.timezones import validate_timezone
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.context import Actor
from bot.store import cohorts as repo
from bot.store.models import Cohort, Member

# `schedule_of` is a domain rule; it stays importable from here for older callers.
__all__ = ["CohortService", "CohortStatus", "describe_schedule", "schedule_of"]

CohortChanged = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class CohortStatus:
    """A cohort's state as members see it."""

    cohort: Cohort
    today_day: int | None
    next_post_at: datetime | None
    next_post_day: int | None
    members: int
    admins: tuple[str, ...]


def parse_post_time(text: str) -> time:
    """Parse 'HH:MM' (24-hour) or raise a StudyBotError saying the format."""
    try:
        hours, minutes = text.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise InvalidInput(f"Post time {text!r} is not HH:MM (24-hour), e.g. 08:30.") from None


def parse_start_date(text: str) -> date:
    """Parse an ISO date or raise a StudyBotError."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"Start date {text!r} is not YYYY-MM-DD, e.g. 2026-12-01.") from None


def check_timezone(name: str) -> str:
    """Return a valid IANA zone or raise a StudyBotError with an example."""
    try:
        return validate_timezone(name.strip())
    except ValueError as exc:
        raise InvalidInput(_sentence(str(exc))) from None


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class CohortService:
    """Cohort use cases over the store."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        days_total: int = 133,
        on_change: CohortChanged | None = None,
        grace: timedelta = timedelta(hours=6),
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._days_total = days_total
        self._on_change = on_change
        # How late the daily post may still be made: a new cohort whose first post time today
        # is further back than this starts tomorrow, instead of with a day 1 already missed.
        self._grace = grace

    def set_change_listener(self, listener: CohortChanged | None) -> None:
        """Register what to run after any cohort change (the scheduler rebuilds its jobs)."""
        self._on_change = listener

    async def _changed(self) -> None:
        if self._on_change is not None:
            await self._on_change()

    def _first_day(self, zone: str, post_time: time) -> date:
        """Return a new cohort's default start: today, or tomorrow when today's post is over.

        Today's post, made late, is still on time within the grace; further back it would be
        recorded missed at once, so day 1 waits for tomorrow's post time instead.
        """
        local_now = self._clock.now().astimezone(ZoneInfo(zone))
        today = local_now.date()
        post_at = datetime.combine(today, post_time, tzinfo=ZoneInfo(zone))
        return today + timedelta(days=1) if local_now - post_at > self._grace else today

    async def cohort_for(self, actor: Actor) -> Cohort | None:
        """Return the cohort of the actor's channel."""
        async with self._sessions() as session:
            return await repo.find_cohort_in(session, channel=actor.channel)

    async def require_cohort(self, actor: Actor) -> Cohort:
        """Return the actor's channel's cohort or explain how to create one."""
        async with self._sessions() as session:
            return await self._channel_cohort(session, actor)

    @staticmethod
    async def _channel_cohort(session: AsyncSession, actor: Actor) -> Cohort:
        cohort = await repo.find_cohort_in(session, channel=actor.channel)
        if cohort is None:
            raise NotFound(
                "This channel has no cohort yet.",
                hint="An admin can create one here with /cohort setup.",
            )
        return cohort

    async def _require_admin(self, session: AsyncSession, actor: Actor, cohort: Cohort) -> None:
        if actor.is_workspace_admin:
            return
        assert cohort.id is not None
        member = await repo.get_member(session, cohort_id=cohort.id, platform_user_id=actor.user_id)
        if member is None or not member.is_admin or not member.active:
            raise NotAllowed(
                "Only server/workspace admins or this cohort's admins can change the cohort.",
                hint="Ask one of them, or see /cohort status for who they are.",
            )

    async def setup(
        self,
        actor: Actor,
        *,
        name: str | None = None,
        timezone: str | None = None,
        post_time: str | None = None,
        start_date: str | None = None,
        length: int | None = None,
        weekdays: str | None = None,
        answers_public: bool | None = None,
        default_timezone: str = "UTC",
        default_post_time: time = time(8, 0),
    ) -> Cohort:
        """Create this channel's cohort, or change its settings (admins only)."""
        tz = check_timezone(timezone) if timezone else None
        at = parse_post_time(post_time) if post_time else None
        start = parse_start_date(start_date) if start_date else None
        if length is not None and not 1 <= length <= self._days_total:
            raise InvalidInput(f"Curriculum length must be between 1 and {self._days_total} days.")
        try:
            days = parse_weekdays(weekdays) if weekdays is not None else None
        except ValueError as exc:
            raise InvalidInput(_sentence(str(exc))) from None
        if days == "":
            raise InvalidInput("Pick at least one weekday to post on, e.g. mon-fri.")
        async with self._sessions() as session:
            cohort = await repo.find_cohort_in(session, channel=actor.channel)
            if cohort is None:
                if not actor.is_workspace_admin:
                    raise NotAllowed(
                        "Only server/workspace admins can create a cohort.",
                        hint="Ask an admin to run /cohort setup in this channel.",
                    )
                zone = tz or default_timezone
                if start is None:
                    start = self._first_day(zone, at or default_post_time)
                cohort = Cohort(
                    name=(name or f"Cohort #{actor.channel_id}")[:100],
                    platform=actor.platform,
                    workspace_id=actor.workspace_id,
                    channel_id=actor.channel_id,
                    timezone=zone,
                    post_time=at or default_post_time,
                    start_date=start,
                    curriculum_length=length or self._days_total,
                    post_weekdays=days or "0123456",
                    answers_public=bool(answers_public),
                    # The daily poster compares it with post times, which run on the clock.
                    created_at=(created := self._clock.now()),
                    updated_at=created,
                )
                session.add(cohort)
                try:
                    await session.flush()
                except IntegrityError:
                    await session.rollback()
                    raise Conflict("This channel already has a cohort.") from None
                assert cohort.id is not None
                await repo.upsert_member(
                    session,
                    cohort_id=cohort.id,
                    platform_user_id=actor.user_id,
                    display_name=actor.display_name,
                    is_admin=True,
                )
            else:
                await self._require_admin(session, actor, cohort)
                changes: dict[str, object] = {}
                for key, value in (
                    ("name", name),
                    ("timezone", tz),
                    ("post_time", at),
                    ("start_date", start),
                    ("curriculum_length", length),
                    ("post_weekdays", days),
                    ("answers_public", answers_public),
                ):
                    if value is not None:
                        changes[key] = value
                await repo.update_cohort(session, cohort=cohort, **changes)
            await session.commit()
        await self._changed()
        return cohort

    async def join(self, actor: Actor) -> Member:
        """Add the actor to this channel's cohort."""
        async with self._sessions() as session:
            cohort = await self._channel_cohort(session, actor)
            assert cohort.id is not None
            member = await repo.upsert_member(
                session,
                cohort_id=cohort.id,
                platform_user_id=actor.user_id,
                display_name=actor.display_name,
            )
            await session.commit()
            return member

    async def leave(self, actor: Actor) -> None:
        """Remove the actor from this channel's cohort (their history stays)."""
        async with self._sessions() as session:
            cohort = await self._channel_cohort(session, actor)
            assert cohort.id is not None
            member = await repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
            if member is None or not member.active:
                raise NotFound("You are not in this cohort.", hint="Join with /cohort join.")
            member.active = False
            session.add(member)
            await session.commit()

    async def set_paused(self, actor: Actor, paused: bool, *, reason: str | None = None) -> Cohort:
        """Pause or resume this channel's cohort's posts (admins only)."""
        async with self._sessions() as session:
            cohort = await self._channel_cohort(session, actor)
            await self._require_admin(session, actor, cohort)
            await repo.update_cohort(
                session,
                cohort=cohort,
                paused=paused,
                paused_reason=(reason or f"paused by {actor.display_name or actor.user_id}")
                if paused
                else None,
            )
            await session.commit()
        await self._changed()
        return cohort

    async def skip(self, actor: Actor, days: int = 1) -> Cohort:
        """Move the schedule `days` later: the next posts repeat no day and skip none."""
        if not 1 <= days <= 30:
            raise InvalidInput("You can move the schedule by 1 to 30 days at a time.")
        async with self._sessions() as session:
            cohort = await self._channel_cohort(session, actor)
            await self._require_admin(session, actor, cohort)
            await repo.update_cohort(session, cohort=cohort, day_shift=cohort.day_shift - days)
            await session.commit()
        await self._changed()
        return cohort

    async def status(self, actor: Actor) -> CohortStatus:
        """Describe this channel's cohort."""
        async with self._sessions() as session:
            cohort = await self._channel_cohort(session, actor)
            assert cohort.id is not None
            members = await repo.list_members(session, cohort_id=cohort.id)
        now = self._clock.now()
        schedule = schedule_of(cohort)
        upcoming = None if cohort.paused else next_slot(schedule, now)
        admins = tuple(m.display_name or m.platform_user_id for m in members if m.is_admin)
        return CohortStatus(
            cohort=cohort,
            today_day=today_day(schedule, now),
            next_post_at=upcoming.due_at if upcoming else None,
            next_post_day=upcoming.day if upcoming else None,
            members=len(members),
            admins=admins,
        )

    async def current_day(self, actor: Actor) -> int:
        """Return the day this channel's cohort is on (1 when not started, last when done)."""
        cohort = await self.require_cohort(actor)
        return day_to_show(schedule_of(cohort), self._clock.now())

    async def set_member_timezone(self, actor: Actor, timezone: str) -> int:
        """Set the actor's own time zone in every cohort they belong to on this platform."""
        zone = check_timezone(timezone)
        async with self._sessions() as session:
            memberships = await repo.members_of_user(
                session, platform=actor.platform, platform_user_id=actor.user_id
            )
            if not memberships:
                raise NotFound(
                    "You are in no cohort yet.", hint="Join one first with /cohort join."
                )
            for member in memberships:
                member.timezone = zone
                session.add(member)
            await session.commit()
            return len(memberships)

    async def member(self, actor: Actor) -> Member | None:
        """Return the actor's active membership of this channel's cohort, if any."""
        cohort = await self.require_cohort(actor)
        assert cohort.id is not None
        async with self._sessions() as session:
            member = await repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
        return member if member is not None and member.active else None

    async def set_admin(self, actor: Actor, user_id: str, *, admin: bool) -> Member:
        """Make a member a cohort admin or take it back (admins only; one admin always stays)."""
        cohort = await self.require_cohort(actor)
        assert cohort.id is not None
        async with self._sessions() as session:
            cohort = await session.merge(cohort)
            await self._require_admin(session, actor, cohort)
            target = await repo.get_member(session, cohort_id=cohort.id, platform_user_id=user_id)
            if not admin:
                if target is None or not target.is_admin:
                    raise InvalidInput(f"{user_id} is not an admin of this cohort.")
                admins = await repo.list_members(session, cohort_id=cohort.id, admins_only=True)
                if len(admins) <= 1:
                    raise Conflict(
                        "A cohort keeps at least one admin.",
                        hint="Add another admin first with /cohort admin add <user>.",
                    )
            target = await repo.upsert_member(
                session, cohort_id=cohort.id, platform_user_id=user_id, is_admin=admin
            )
            await session.commit()
            return target

    def skip_code(self, cohort: Cohort, days: int) -> str:
        """Return the confirmation code of moving this schedule, as it is now, by `days`."""
        seed = f"{cohort.id}:{cohort.day_shift}:{days}".encode()
        return hashlib.sha256(seed).hexdigest()[:4]

    async def skip_preview(self, actor: Actor, days: int) -> SkipPreview:
        """Say what moving the schedule `days` later would do, with the code that confirms it."""
        if not 1 <= days <= 30:
            raise InvalidInput("You can move the schedule by 1 to 30 days at a time.")
        cohort = await self.require_cohort(actor)
        async with self._sessions() as session:
            await self._require_admin(session, actor, cohort)
        now = self._clock.now()
        before = next_slot(schedule_of(cohort), now)
        moved = replace(schedule_of(cohort), day_shift=cohort.day_shift - days)
        # The moved schedule first reaches days already posted (which are not posted again);
        # what members see move is when the next new day arrives.
        after = next_slot(moved, now)
        while after is not None and before is not None and after.day < before.day:
            after = next_slot(moved, after.due_at)
        return SkipPreview(
            days=days,
            code=self.skip_code(cohort, days),
            next_day=before.day if before else None,
            next_at_before=before.due_at if before else None,
            next_at_after=after.due_at if after else None,
        )

    async def skip_confirmed(self, actor: Actor, days: int, code: str) -> Cohort:
        """Move the schedule once for a confirmation code; a repeat of it moves nothing."""
        cohort = await self.require_cohort(actor)
        async with self._sessions() as session:
            cohort = await session.merge(cohort)
            await session.refresh(cohort)
            await self._require_admin(session, actor, cohort)
            if code.strip().lower() != self.skip_code(cohort, days):
                raise Conflict(
                    "That confirmation is for an earlier schedule, so nothing moved.",
                    hint=f"See /cohort status, then /cohort skip {days} again if still needed.",
                )
            await repo.update_cohort(session, cohort=cohort, day_shift=cohort.day_shift - days)
            await session.commit()
        await self._changed()
        return cohort


def describe_schedule(cohort: Cohort) -> str:
    """Render a cohort's schedule for people."""
    return (
        f"{cohort.post_time.strftime('%H:%M')} {cohort.timezone}, "
        f"{describe_weekdays(cohort.post_weekdays)}, from {cohort.start_date.isoformat()}, "
        f"{cohort.curriculum_length} days"
    )


@dataclass(frozen=True)
class SkipPreview:
    """What moving a schedule later would do, and the code that confirms it."""

    days: int
    code: str
    next_day: int | None
    next_at_before: datetime | None
    next_at_after: datetime | None
