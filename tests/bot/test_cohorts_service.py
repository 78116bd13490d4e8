"""Cohort set-up, membership and admin rules, on both databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.errors import InvalidInput, NotAllowed, NotFound, StudyBotError
from bot.services.cohorts import CohortService
from bot.services.context import Actor

ADMIN = Actor("slack", "T1", "C1", "U-admin", "Ada", is_workspace_admin=True)
MEMBER = Actor("slack", "T1", "C1", "U-bob", "Bob")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 12, 1, 12, tzinfo=UTC))


@pytest.fixture
def service(db: Any, clock: FakeClock) -> CohortService:
    return CohortService(db.sessions, clock)


async def test_admin_sets_up_a_cohort_and_becomes_its_admin(service: CohortService) -> None:
    cohort = await service.setup(
        ADMIN,
        timezone="Europe/Berlin",
        post_time="07:30",
        start_date="2026-12-07",
        weekdays="mon-fri",
        length=100,
        name="Winter",
    )
    assert (cohort.timezone, cohort.post_time, cohort.start_date) == (
        "Europe/Berlin",
        time(7, 30),
        date(2026, 12, 7),
    )
    assert cohort.post_weekdays == "01234" and cohort.curriculum_length == 100
    status = await service.status(ADMIN)
    assert status.admins == ("Ada",)
    assert status.today_day is None  # starts next week
    assert status.next_post_day == 1
    assert status.next_post_at == datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "zone", "first_day"),
    [
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), "UTC", date(2026, 12, 1)),  # before 08:00
        (datetime(2026, 12, 1, 13, 59, tzinfo=UTC), "UTC", date(2026, 12, 1)),  # posted late
        (datetime(2026, 12, 1, 15, 20, tzinfo=UTC), "UTC", date(2026, 12, 2)),  # past the grace
        # 23:30 UTC on the 1st is 08:30 on the 2nd in Tokyo: that morning's post is still due.
        (datetime(2026, 12, 1, 23, 30, tzinfo=UTC), "Asia/Tokyo", date(2026, 12, 2)),
    ],
)
async def test_a_new_cohort_starts_with_a_day_one_that_can_still_be_posted(
    db: Any, now: datetime, zone: str, first_day: date
) -> None:
    # The daily post may be made up to 6 hours late; further back, day 1 would be missed at
    # once (and its admins told the bot was down), so the cohort starts the next day.
    service = CohortService(db.sessions, FakeClock(now))
    cohort = await service.setup(ADMIN, timezone=zone)
    assert cohort.start_date == first_day


async def test_members_cannot_create_or_change_a_cohort(service: CohortService) -> None:
    with pytest.raises(StudyBotError, match="Only server/workspace admins can create"):
        await service.setup(MEMBER)
    await service.setup(ADMIN)
    await service.join(MEMBER)
    for action in (
        service.setup(MEMBER, timezone="UTC"),
        service.set_paused(MEMBER, True),
        service.skip(MEMBER),
    ):
        with pytest.raises(StudyBotError, match="Only server/workspace admins or this cohort"):
            await action


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timezone": "Berlin"}, "(?i)unknown time zone 'Berlin'"),
        ({"post_time": "8am"}, "not HH:MM"),
        ({"start_date": "01/12/2026"}, "not YYYY-MM-DD"),
        ({"length": 500}, "between 1 and 133"),
        ({"weekdays": "someday"}, "(?i)unknown weekday"),
    ],
)
async def test_bad_setup_values_are_explained(
    service: CohortService, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(StudyBotError, match=message):
        await service.setup(ADMIN, **kwargs)
    assert await service.cohort_for(ADMIN) is None  # nothing half-created


async def test_join_leave_and_member_timezone(service: CohortService) -> None:
    await service.setup(ADMIN)
    with pytest.raises(StudyBotError, match="in no cohort"):
        await service.set_member_timezone(MEMBER, "Asia/Tokyo")
    await service.join(MEMBER)
    assert (await service.status(ADMIN)).members == 2
    assert await service.set_member_timezone(MEMBER, "Asia/Tokyo") == 1
    await service.leave(MEMBER)
    assert (await service.status(ADMIN)).members == 1
    with pytest.raises(StudyBotError, match="not in this cohort"):
        await service.leave(MEMBER)


async def test_pause_resume_skip_and_change_listener(
    service: CohortService, clock: FakeClock
) -> None:
    changes: list[int] = []

    async def on_change() -> None:
        changes.append(1)

    service.set_change_listener(on_change)
    await service.setup(ADMIN, start_date="2026-12-01", post_time="08:00")
    assert await service.current_day(ADMIN) == 1
    paused = await service.set_paused(ADMIN, True, reason="holidays")
    assert paused.paused and paused.paused_reason == "holidays"
    assert (await service.status(ADMIN)).next_post_at is None
    await service.set_paused(ADMIN, False)
    clock.advance(days=1)
    assert await service.current_day(ADMIN) == 2
    await service.skip(ADMIN)
    assert await service.current_day(ADMIN) == 1  # the schedule moved a day later
    assert len(changes) == 4


async def test_a_channel_without_cohort_says_how_to_make_one(service: CohortService) -> None:
    with pytest.raises(StudyBotError) as info:
        await service.status(MEMBER)
    assert "/cohort setup" in str(info.value)


async def test_status_and_today_agree_on_the_day_before_the_post_time(
    service: CohortService, clock: FakeClock
) -> None:
    # Day 1 was five days ago; at 07:00 local the fifth post (08:00) is not out yet.
    clock.set(datetime(2026, 12, 5, 7, tzinfo=UTC))
    await service.setup(ADMIN, start_date="2026-12-01", post_time="08:00", timezone="UTC")
    assert (await service.status(ADMIN)).today_day == await service.current_day(ADMIN) == 4
    clock.set(datetime(2026, 12, 5, 8, 1, tzinfo=UTC))
    assert (await service.status(ADMIN)).today_day == await service.current_day(ADMIN) == 5


async def test_errors_are_typed_for_the_faces(service: CohortService) -> None:
    with pytest.raises(NotFound):
        await service.status(MEMBER)
    with pytest.raises(NotAllowed):
        await service.setup(MEMBER)
    with pytest.raises(InvalidInput):
        await service.setup(ADMIN, timezone="Mars/Olympus")
    await service.setup(ADMIN)
    with pytest.raises(InvalidInput):
        await service.skip(ADMIN, 99)


async def test_a_raw_user_id_never_overwrites_a_members_name(service: CohortService) -> None:
    await service.setup(ADMIN)
    await service.join(MEMBER)
    nameless = Actor("slack", "T1", "C1", "U-bob", "U-bob")  # the face knew no name this time
    await service.join(nameless)
    status = await service.status(ADMIN)
    async with service._sessions() as session:
        from bot.store.cohorts import get_member

        assert status.cohort.id is not None
        bob = await get_member(session, cohort_id=status.cohort.id, platform_user_id="U-bob")
    assert bob is not None and bob.display_name == "Bob"
