"""The daily post says how many of the cohort's members have reviews due on its local today."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import FakeClock
from bot.messages import Channel, Message, SentMessage
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.review_deck import end_of_local_day, reviews_due_line
from bot.store.models import Cohort, Member, ReviewCard
from tests.bot.test_daily_publish import RecordingPublisher, daily

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)  # 08:00 in Berlin (winter); local midnight 23:00


class ContentPublisher(RecordingPublisher):
    """Records what each accepted message said, by its idempotency key."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, Message] = {}

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        sent = await super().post(channel, message, idempotency_key=idempotency_key)
        self.messages[idempotency_key] = message
        return sent


def actor(channel: str, user: str, admin: bool = False) -> Actor:
    return Actor("slack", "T1", channel, user, user.title(), is_workspace_admin=admin)


async def cohort_with_members(
    db: Any, clock: FakeClock, channel: str, users: list[str], **kw: Any
) -> tuple[Cohort, list[Member]]:
    service = CohortService(db.sessions, clock)
    settings = {"timezone": "Europe/Berlin", "post_time": "08:00", "start_date": "2026-12-01"}
    cohort = await service.setup(actor(channel, "admin", True), **{**settings, **kw})
    members = [await service.join(actor(channel, user)) for user in users]
    return cohort, members


async def add_cards(db: Any, cohort: Cohort, cards: list[tuple[Member, datetime]]) -> None:
    async with db.sessions() as session:
        for n, (member, due) in enumerate(cards):
            assert member.id is not None and cohort.id is not None
            session.add(
                ReviewCard(
                    member_id=member.id, cohort_id=cohort.id, question_id=f"E1-{n:03d}", due=due
                )
            )
        await session.commit()


def plan_text(publisher: ContentPublisher, cohort: Cohort) -> str:
    return publisher.messages[f"studybot:{cohort.id}:1:plan"].text


async def test_the_post_counts_members_with_a_review_due_before_local_midnight(db: Any) -> None:
    clock = FakeClock(START)
    publisher = ContentPublisher()
    berlin, (ann, bob, cid, dee) = await cohort_with_members(
        db, clock, "C1", ["ann", "bob", "cid", "dee"]
    )
    other, (eve,) = await cohort_with_members(db, clock, "C2", ["eve"])
    await add_cards(
        db,
        berlin,
        [
            (ann, START + timedelta(hours=15, minutes=30)),  # 23:30 local: due today
            (ann, START - timedelta(days=3)),  # a second card: still one member
            (bob, START - timedelta(days=10)),  # long overdue
            # 00:30 local tomorrow, though still today in UTC: not due today
            (cid, START + timedelta(hours=16, minutes=30)),
            (dee, START + timedelta(days=4)),
        ],
    )
    await add_cards(db, other, [(eve, START - timedelta(days=1))])
    report = await daily(db, publisher, clock).publish_due(clock.now())
    assert sorted(day for _, day in report.posted) == [1, 1]
    assert plan_text(publisher, berlin).endswith(
        "\n\n🔁 2 members have reviews due today — `/review`"
    )
    assert "🔁 1 member has reviews due today — `/review`" in plan_text(publisher, other)
    # Only the plan message says it; the question threads are the day's as before.
    lines = [m.text for k, m in publisher.messages.items() if "🔁" in m.text]
    assert len(lines) == 2


async def test_no_line_on_a_day_nobody_has_a_review_due_and_one_the_day_it_comes_due(
    db: Any,
) -> None:
    clock = FakeClock(START)
    publisher = ContentPublisher()
    cohort, (ann,) = await cohort_with_members(db, clock, "C1", ["ann"])
    await add_cards(db, cohort, [(ann, START + timedelta(hours=17))])  # 01:00 local tomorrow
    service = daily(db, publisher, clock)
    await service.publish_due(clock.now())
    assert "🔁" not in plan_text(publisher, cohort) and "review" not in plan_text(publisher, cohort)
    clock.advance(days=1)
    await service.publish_due(clock.now())
    day_two = publisher.messages[f"studybot:{cohort.id}:2:plan"].text
    assert day_two.endswith("\n\n🔁 1 member has reviews due today — `/review`")


async def test_a_cohort_east_of_utc_counts_to_its_own_midnight(db: Any) -> None:
    # Tokyo's 08:00 post of 1 December is 23:00 UTC on 30 November; its day ends 15:00 UTC.
    clock = FakeClock(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))
    publisher = ContentPublisher()
    cohort, (ann, bob) = await cohort_with_members(
        db, clock, "C1", ["ann", "bob"], timezone="Asia/Tokyo"
    )
    await add_cards(
        db,
        cohort,
        [
            (ann, datetime(2026, 12, 1, 14, 30, tzinfo=UTC)),  # 23:30 in Tokyo: today
            (bob, datetime(2026, 12, 1, 15, 30, tzinfo=UTC)),  # 00:30 on 2 December
        ],
    )
    await daily(db, publisher, clock).publish_due(clock.now())
    assert "🔁 1 member has reviews due today" in plan_text(publisher, cohort)


def test_the_local_day_ends_at_local_midnight_across_a_dst_change() -> None:
    # 29 March 2026 in Berlin is 23 hours long: it ends at 22:00 UTC, not 23:00.
    assert end_of_local_day(datetime(2026, 3, 29, 6, tzinfo=UTC), "Europe/Berlin") == datetime(
        2026, 3, 29, 22, tzinfo=UTC
    )
    assert end_of_local_day(datetime(2026, 11, 30, 23, tzinfo=UTC), "Asia/Tokyo") == datetime(
        2026, 12, 1, 15, tzinfo=UTC
    )
    assert reviews_due_line(0) is None
    assert reviews_due_line(3) == "🔁 3 members have reviews due today — `/review`"
