"""The weekly recap: last week's standings in one post, exactly once across a restart."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy
from bot.domain.scoring import Reason
from bot.messages import Channel, Message, PublishError, SentMessage
from bot.services.recap import RecapService, due_week, recap_key
from bot.services.standings import StandingsService
from bot.store import points as points_store
from bot.store.models import Answer, Cohort, Grade, Member, WorkClaim
from content import load_library

WEEK = date(2026, 11, 30)  # a Monday
MONDAY_POST = datetime(2026, 12, 7, 7, 5, tzinfo=UTC)  # 08:05 in Berlin, after the 08:00 post


class Channels:
    """A Publisher that keeps posts by key and finds them again (as Slack's history does)."""

    platform = "console"

    def __init__(self, *, fail_after_storing: bool = False) -> None:
        self.posts: dict[str, Message] = {}
        # every copy still in the channel, in the order the platform stored them
        self.copies: list[tuple[str, SentMessage]] = []
        self.withdrawn: list[SentMessage] = []
        self.sent = 0
        self.fail_after_storing = fail_after_storing

    def store(self, channel: Channel, message: Message, key: str) -> SentMessage:
        self.sent += 1
        self.posts[key] = message
        sent = SentMessage(f"m{self.sent}", channel.channel_id)
        self.copies.append((key, sent))
        return sent

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        sent = self.store(channel, message, idempotency_key)
        if self.fail_after_storing:  # the platform stored it, the answer never came back
            raise PublishError("timed out", transient=True)
        return sent

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        first = next((s for key, s in self.copies if key == idempotency_key), None)
        if first is None and idempotency_key in self.posts:  # stored by another fake
            return SentMessage("found", channel.channel_id)
        return first

    async def withdraw(self, sent: SentMessage) -> None:
        self.copies = [(k, s) for k, s in self.copies if s.message_id != sent.message_id]
        self.withdrawn.append(sent)

    async def reply_in_thread(self, channel: Channel, thread_id: str, message: Message) -> Any:
        raise AssertionError("not used")

    async def send_dm(self, user_id: str, message: Message) -> Any:
        raise AssertionError("not used")

    async def edit(self, sent: SentMessage, message: Message) -> None:
        raise AssertionError("not used")


async def seed(db: Any) -> list[int]:
    async with db.sessions() as session:
        cohort = Cohort(
            name="Berlin",
            platform="console",
            workspace_id="w",
            channel_id="ch",
            timezone="Europe/Berlin",
            post_time=time(8),
            start_date=date(2026, 11, 1),
        )
        session.add(cohort)
        await session.flush()
        ids = []
        for n in range(3):
            m = Member(cohort_id=cohort.id, platform_user_id=f"u{n}", display_name=f"M{n}")
            session.add(m)
            await session.flush()
            ids.append(int(m.id or 0))
        at = datetime(2026, 12, 1, 12, tzinfo=UTC)  # Tuesday of the recapped week
        for n, member_id in enumerate(ids):
            await points_store.record_award(
                session,
                cohort_id=int(cohort.id or 0),
                member_id=member_id,
                reason=Reason.ANSWER,
                ref=f"answer:{n}",
                points=10 * (n + 1),
                local_day=at.date(),
                at=at,
            )
        await points_store.record_award(
            session,
            cohort_id=int(cohort.id or 0),
            member_id=ids[0],
            reason=Reason.MOCK_CANDIDATE,
            ref="mock:1:candidate",
            points=20,
            local_day=at.date(),
            at=at,
        )
        for qid, score in (("E1-005", 0.2), ("E1-005", 0.4), ("E3-082", 0.9)):
            answer = Answer(
                cohort_id=cohort.id, member_id=ids[1], question_id=qid, text="x", status="graded"
            )
            session.add(answer)
            await session.flush()
            session.add(Grade(answer_id=answer.id, score=score, grader="offline", created_at=at))
        await session.commit()
        return ids


def service(db: Any, clock: FakeClock, publisher: Channels, holder: str) -> RecapService:
    standings = StandingsService(db.sessions, clock, load_library())
    policy = ClaimPolicy(lease_s=60, heartbeat_interval_s=5)
    return RecapService(
        db.sessions,
        clock,
        standings,
        {"console": publisher},
        holder=holder,
        policy=policy,
        charts=False,
    )


def test_the_recap_is_due_on_monday_from_the_post_time_in_the_cohorts_zone() -> None:
    cohort = Cohort(
        name="c",
        platform="console",
        workspace_id="w",
        channel_id="c",
        timezone="Europe/Berlin",
        post_time=time(8),
        start_date=WEEK,
    )
    assert due_week(cohort, MONDAY_POST) == WEEK
    assert due_week(cohort, MONDAY_POST - timedelta(minutes=10)) is None  # 07:55 local
    # Missed on Monday, it is still due later in the week, up to the next Monday's post time.
    assert due_week(cohort, MONDAY_POST + timedelta(days=1)) == WEEK
    assert due_week(cohort, MONDAY_POST + timedelta(days=7, minutes=-10)) == WEEK
    assert due_week(cohort, MONDAY_POST + timedelta(days=7)) == WEEK + timedelta(days=7)


def test_a_catch_up_is_counted_in_the_cohorts_zone_and_never_before_it_started() -> None:
    tokyo = Cohort(
        name="t",
        platform="console",
        workspace_id="w",
        channel_id="t",
        timezone="Asia/Tokyo",
        post_time=time(8),
        start_date=WEEK - timedelta(days=14),
    )
    # Monday 08:30 in Tokyo is still Sunday in UTC: that Monday's recap is due.
    assert due_week(tokyo, datetime(2026, 12, 6, 23, 30, tzinfo=UTC)) == WEEK
    assert due_week(tokyo, datetime(2026, 12, 6, 22, 30, tzinfo=UTC)) == WEEK - timedelta(days=7)
    # A cohort that started after a week ended has no recap of it to catch up.
    later = Cohort(**{**tokyo.model_dump(), "start_date": WEEK + timedelta(days=9)})
    assert due_week(later, datetime(2026, 12, 9, 3, tzinfo=UTC)) is None


async def test_the_recap_shows_last_weeks_top_members_mocks_and_hardest_questions(db: Any) -> None:
    await seed(db)
    clock = FakeClock(MONDAY_POST)
    recap = await service(db, clock, Channels(), "a").compose(1, WEEK)
    assert [(r.name, r.value) for r in recap.top] == [("M0", 30), ("M2", 30), ("M1", 20)]
    assert recap.mocks_held == 1
    assert [h.question_id for h in recap.hardest][0] == "E1-005"
    assert recap.hardest[0].average == pytest.approx(0.3) and recap.hardest[0].answers == 2
    assert sum(p for _, p in recap.daily_points) == 80 and len(recap.daily_points) == 7


async def test_the_recap_posts_once_across_processes_and_a_restart(db: Any) -> None:
    await seed(db)
    clock = FakeClock(MONDAY_POST)
    # The first process posts; the platform stores it but the answer is lost, so the claim is
    # handed back (released) and the process dies.
    lossy = Channels(fail_after_storing=True)
    first = await service(db, clock, lossy, "proc-a").publish_due()
    assert first.failed == [1] and lossy.sent == 1
    # After a restart (a new process, the same platform) the recap is found, not sent again.
    channels = Channels()
    channels.posts = dict(lossy.posts)
    clock.advance(seconds=30)
    again = await service(db, clock, channels, "proc-b").publish_due()
    assert again.posted == [1] and channels.sent == 0
    # A third process, or the next tick, finds the claim finished and does nothing.
    clock.advance(minutes=5)
    assert (await service(db, clock, channels, "proc-c").publish_due()).posted == []
    assert channels.sent == 0 and list(channels.posts) == [recap_key(1, WEEK)]
    async with db.sessions() as session:
        from sqlmodel import select

        (claim,) = (await session.execute(select(WorkClaim))).scalars().all()
    assert claim.status == "finished" and claim.key == recap_key(1, WEEK)


class StalledChannels(Channels):
    """The first post stalls before it reaches the platform while `during_stall` runs; it lands
    after the other process's copy, or (`land_during_look`) just after the other's look."""

    def __init__(self, *, land_during_look: bool) -> None:
        super().__init__()
        self.during_stall: Any = None
        self.land_during_look = land_during_look
        self._landing: tuple[Channel, Message, str] | None = None
        self._landed: SentMessage | None = None

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        if self.during_stall is None:
            return await super().post(channel, message, idempotency_key=idempotency_key)
        hook, self.during_stall = self.during_stall, None
        if self.land_during_look:
            self._landing = (channel, message, idempotency_key)
        await hook()
        return self._landed or self.store(channel, message, idempotency_key)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        found = await super().find_posted(channel, idempotency_key)
        if self._landing is not None:
            self._landed, self._landing = self.store(*self._landing), None
        return found


@pytest.mark.parametrize("land_during_look", [False, True], ids=["after", "between"])
async def test_a_recap_send_stalled_past_a_takeover_leaves_one_copy(
    db: Any, land_during_look: bool
) -> None:
    await seed(db)
    clock = FakeClock(MONDAY_POST)
    channels = StalledChannels(land_during_look=land_during_look)

    async def taken_over() -> None:
        clock.advance(minutes=2)  # past proc-a's lease: proc-b takes the recap over
        assert (await service(db, clock, channels, "proc-b").publish_due()).posted == [1]

    channels.during_stall = taken_over
    report = await service(db, clock, channels, "proc-a").publish_due()
    assert report.lost == [1] and report.posted == []
    assert channels.sent == 2 and len(channels.withdrawn) == 1
    [(key, kept)] = channels.copies
    assert key == recap_key(1, WEEK) and kept.message_id == "m1"


async def test_a_clean_first_post_is_the_only_one(db: Any) -> None:
    await seed(db)
    clock = FakeClock(MONDAY_POST)
    channels = Channels()
    assert (await service(db, clock, channels, "proc-a").publish_due()).posted == [1]
    assert (await service(db, clock, channels, "proc-b").publish_due()).posted == []
    (message,) = channels.posts.values()
    assert message.header and message.header.startswith("Week in review: 30 Nov")
    assert channels.sent == 1


async def test_the_recap_chart_is_a_png_attached_to_the_post(db: Any) -> None:
    from bot.services.charts import recap_png
    from bot.services.recap import render_recap
    from tests.bot.test_standings_charts import png_size

    await seed(db)
    recap = await service(db, FakeClock(MONDAY_POST), Channels(), "a").compose(1, WEEK)
    message = render_recap(recap, recap_png(recap))
    assert message.image is not None and png_size(message.image.data) == (1000, 500)


async def test_a_recap_missed_all_monday_is_posted_once_later_in_the_week(db: Any) -> None:
    await seed(db)
    channels = Channels()
    # The bot was down from before Monday's post time until Wednesday afternoon.
    clock = FakeClock(MONDAY_POST + timedelta(days=2, hours=6))
    first = await service(db, clock, channels, "proc-a").publish_due()
    assert first.posted == [1] and list(channels.posts) == [recap_key(1, WEEK)]
    (message,) = channels.posts.values()
    assert message.header and message.header.startswith("Week in review: 30 Nov")
    # Later passes that week, in this process or another, post nothing more.
    for hours in (1, 30, 60):  # up to Sunday morning
        clock.advance(hours=hours)
        assert (await service(db, clock, channels, "proc-b").publish_due()).posted == []
    assert channels.sent == 1
    # The next Monday at its post time, the next week's recap is the one posted.
    clock.set(MONDAY_POST + timedelta(days=7))
    assert (await service(db, clock, channels, "proc-a").publish_due()).posted == [1]
    assert list(channels.posts) == [recap_key(1, WEEK), recap_key(1, WEEK + timedelta(days=7))]


def test_members_sharing_a_name_each_get_their_own_bar_in_the_recap_chart() -> None:
    from bot.services.charts import recap_figure
    from bot.services.recap import Recap, RecapLine

    top = (RecapLine("Ann", 30), RecapLine("Ann", 20), RecapLine("A" * 40, 10))
    recap = Recap(1, "Berlin", WEEK, top, (), 0, (), (), ((WEEK, 60),))
    top_ax = recap_figure(recap).axes[0]
    assert len({bar.get_y() for bar in top_ax.patches}) == 3
    labels = [label.get_text() for label in top_ax.get_yticklabels()]
    assert labels == ["A" * 15 + "…", "Ann", "Ann"]
