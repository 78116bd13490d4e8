"""The daily post: on time in the cohort's zone, exactly once through races, crashes and 429s."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.messages import Channel, Message, PublishError, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.daily import DailyService, compose_day
from bot.store.models import Cohort, DayPost, ThreadLink
from content import load_library

ADMIN = Actor("slack", "T1", "C1", "U-admin", "Ada", is_workspace_admin=True)
START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 08:00 in Berlin (winter)


class Crash(BaseException):
    """Stands in for the process dying between two platform calls."""


class RecordingPublisher:
    """A platform at the boundary: records accepted messages, can refuse or 'crash'."""

    platform = "slack"

    def __init__(self) -> None:
        self.accepted: dict[str, SentMessage] = {}
        self.order: list[str] = []
        self.dms: list[tuple[str, Message]] = []
        self.transient_failures = 0
        self.permanent: str | None = None
        self.crash_after: int | None = None
        self.calls = 0

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        self.calls += 1
        if self.permanent:
            raise PublishError(self.permanent, transient=False)
        if self.transient_failures:
            self.transient_failures -= 1
            raise PublishError("ratelimited", transient=True, retry_after=1.0)
        sent = SentMessage(
            f"ts{len(self.order)}",
            channel.channel_id,
            f"ts{len(self.order)}" if message.thread_starter else None,
        )
        self.accepted[idempotency_key] = sent
        self.order.append(idempotency_key)
        if self.crash_after is not None and len(self.order) >= self.crash_after:
            self.crash_after = None
            raise Crash  # accepted by the platform, never recorded by the bot
        return sent

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        return self.accepted.get(idempotency_key)

    async def reply_in_thread(
        self, channel: Channel, thread_id: str, message: Message
    ) -> SentMessage:
        raise AssertionError("not used")

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        self.dms.append((user_id, message))
        return SentMessage("dm", user_id)

    async def edit(self, sent: SentMessage, message: Message) -> None:
        raise AssertionError("not used")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START - timedelta(minutes=1))


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def daily(db: Any, publisher: RecordingPublisher, clock: FakeClock, **kw: Any) -> DailyService:
    return DailyService(db.sessions, load_library(), {"slack": publisher}, clock=clock, **kw)


async def make_cohort(db: Any, clock: FakeClock, **kw: Any) -> Cohort:
    service = CohortService(db.sessions, clock)
    defaults = {"timezone": "Europe/Berlin", "post_time": "08:00", "start_date": "2026-12-01"}
    return await service.setup(ADMIN, **{**defaults, **kw})


def parts_of_day(day: int) -> int:
    return len(compose_day(load_library().day(day)))


async def test_posts_at_local_time_once(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    service = daily(db, publisher, clock)
    assert (await service.publish_due(clock.now())).posted == []
    clock.advance(minutes=1)
    report = await service.publish_due(clock.now())
    assert [day for _, day in report.posted] == [1]
    assert len(publisher.order) == parts_of_day(1)
    again = await service.publish_due(clock.now() + timedelta(hours=1))
    assert again.posted == [] and len(publisher.order) == parts_of_day(1)
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
        links = (await session.execute(select(ThreadLink))).scalars().all()
    assert post.status == "posted" and len(post.message_ids) == parts_of_day(1)
    assert len(links) == parts_of_day(1) - 1  # one thread per question


async def test_dst_change_moves_the_utc_instant(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    clock.set(datetime(2027, 3, 27, 12, tzinfo=UTC))
    await make_cohort(db, clock, start_date="2027-03-27")
    service = daily(db, publisher, clock)
    # 2027-03-28: Berlin switches to summer time; 08:00 local is 06:00 UTC.
    await service.publish_due(datetime(2027, 3, 27, 12, tzinfo=UTC))
    before = len(publisher.order)
    assert (await service.publish_due(datetime(2027, 3, 28, 5, 59, tzinfo=UTC))).posted == []
    report = await service.publish_due(datetime(2027, 3, 28, 6, 0, tzinfo=UTC))
    assert [day for _, day in report.posted] == [2]
    assert len(publisher.order) == before + parts_of_day(2)


async def test_two_schedulers_racing_post_once(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    first, second = daily(db, publisher, clock), daily(db, publisher, clock)
    reports = await asyncio.gather(
        first.publish_due(clock.now()),
        second.publish_due(clock.now()),
        first.publish_due(clock.now()),
    )
    assert sum(len(r.posted) for r in reports) == 1
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)


async def test_crash_after_the_platform_accepted_resumes_without_doubling(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    publisher.crash_after = 3
    with pytest.raises(Crash):
        await daily(db, publisher, clock).publish_due(clock.now())
    # A restarted process: the claim is still leased, so nothing happens at once ...
    restarted = daily(db, publisher, clock)
    assert (await restarted.publish_due(clock.now())).posted == []
    # ... and once the lease runs out the post resumes from what was recorded.
    clock.advance(minutes=6)
    report = await restarted.publish_due(clock.now())
    assert [day for _, day in report.posted] == [1]
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)


async def test_a_429_storm_ends_in_exactly_one_post(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    publisher.transient_failures = 14  # more than one send's retries: the claim is released
    service = daily(db, publisher, clock, max_attempts=4)
    for _ in range(10):
        await service.publish_due(clock.now())
        clock.advance(seconds=30)
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
    assert post.status == "posted" and post.attempts >= 1


async def test_missed_post_within_grace_is_made_late_beyond_grace_reported(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    service = daily(db, publisher, clock, grace=timedelta(hours=6))
    report = await service.publish_due(START + timedelta(hours=5))
    assert [day for _, day in report.posted] == [1]
    # Day 2 is 7 hours late when the bot comes back: recorded as missed, admins told.
    report = await service.publish_due(START + timedelta(days=1, hours=7))
    assert report.missed and report.posted == []
    assert len(publisher.order) == parts_of_day(1)
    assert publisher.dms and "Day 2 was not posted" in (publisher.dms[0][1].text or "")
    assert (await service.publish_due(START + timedelta(days=1, hours=8))).missed == []


async def test_permanent_error_pauses_the_cohort_and_tells_admins(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    publisher.permanent = "channel_not_found"
    report = await daily(db, publisher, clock).publish_due(clock.now())
    assert report.failed and publisher.calls == 1
    async with db.sessions() as session:
        cohort = (await session.execute(select(Cohort))).scalars().one()
    assert cohort.paused and "channel_not_found" in (cohort.paused_reason or "")
    assert "channel_not_found" in (publisher.dms[0][1].text or "")
    publisher.permanent = None
    assert (await daily(db, publisher, clock).publish_due(clock.now())).posted == []
