"""The daily post: on time in the cohort's zone, exactly once through races, crashes and 429s."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot.clock import FakeClock
from bot.messages import Channel, Message, PublishError, SentMessage, keep_first_copy
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


# --- fencing: a process whose claim was taken over neither sends nor records ---------------


class TakeoverPublisher(RecordingPublisher):
    """Runs `during_post` once, inside the Nth post, after the platform accepted the message."""

    def __init__(self) -> None:
        super().__init__()
        self.during_post: Any = None
        self.at_call = 1
        self.fail_transiently = False

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        hook = self.during_post if self.calls + 1 == self.at_call else None
        if hook is not None and self.fail_transiently:
            self.calls += 1
            self.during_post = None
            await hook()
            raise PublishError("Slack did not answer (TimeoutError)", transient=True, retry_after=1)
        sent = await super().post(channel, message, idempotency_key=idempotency_key)
        if hook is not None:
            self.during_post = None
            await hook()
        return sent


async def paused_then_taken_over(db: Any, clock: FakeClock, publisher: RecordingPublisher) -> Any:
    """Return a hook: this process pauses a minute (its heartbeat stops), another takes over."""
    from bot.heartbeat import Heartbeat

    first = daily(db, publisher, clock)
    await Heartbeat(db.sessions, clock, process_id=first.holder).beat()

    async def hook() -> None:
        clock.advance(minutes=1)
        other = daily(db, publisher, clock)
        report = await other.publish_due(clock.now())
        assert report.posted, report

    return first, hook


async def test_a_taken_over_process_is_refused_before_it_sends_again(
    db: Any, clock: FakeClock
) -> None:
    publisher = TakeoverPublisher()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    first, hook = await paused_then_taken_over(db, clock, publisher)
    # the first post times out while this process is paused and taken over; the retry that
    # would follow finds nothing in history for its own key and must not be sent
    publisher.during_post, publisher.at_call, publisher.fail_transiently = hook, 1, True
    report = await first.publish_due(clock.now())
    assert report.lost == [(1, 1)] and report.posted == []
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)
    assert publisher.calls == 1 + parts_of_day(1)  # the failed try, then the other's posts


async def test_a_taken_over_process_is_refused_when_it_records(db: Any, clock: FakeClock) -> None:
    publisher = TakeoverPublisher()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    first, hook = await paused_then_taken_over(db, clock, publisher)
    # the platform takes the second part; the answer reaches this process after the takeover
    publisher.during_post, publisher.at_call = hook, 2
    report = await first.publish_due(clock.now())
    assert report.lost == [(1, 1)] and report.posted == []
    # every part once: the other process found the accepted part in the channel's history
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
        links = (await session.execute(select(ThreadLink))).scalars().all()
    accepted = {key.split(":", 3)[3]: sent for key, sent in publisher.accepted.items()}
    assert post.status == "posted"
    assert {part: ids["message_id"] for part, ids in post.message_ids.items()} == {
        part: sent.message_id for part, sent in accepted.items()
    }
    assert len(links) == parts_of_day(1) - 1


class ChannelPublisher:
    """A channel that keeps every copy of a keyed post in the order the platform stored them.

    `find_posted` returns the first copy still there, as Slack's history does. At the post
    numbered `stall_at`, the sender stalls before its request reaches the platform: `during_stall`
    runs (another process takes over), and the stalled request lands after it, or, with
    `land_during_look`, while the other process is between its look and its own send.
    """

    platform = "slack"

    def __init__(self) -> None:
        self.stored: list[tuple[str, SentMessage]] = []
        self.withdrawn: list[SentMessage] = []
        self.calls = 0
        self.stall_at: int | None = None
        self.during_stall: Any = None
        self.land_during_look = False
        self._landing: tuple[Channel, str] | None = None
        self._landed: SentMessage | None = None

    def _store(self, channel: Channel, key: str) -> SentMessage:
        ts = f"ts{len(self.stored) + len(self.withdrawn)}"
        sent = SentMessage(ts, channel.channel_id, ts if key.split(":")[-2] == "q" else None)
        self.stored.append((key, sent))
        return sent

    def copies(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for key, _ in self.stored:
            counts[key] = counts.get(key, 0) + 1
        return counts

    async def post(
        self, channel: Channel, message: Message, *, idempotency_key: str
    ) -> SentMessage:
        self.calls += 1
        if self.calls == self.stall_at and self.during_stall is not None:
            hook, self.during_stall = self.during_stall, None
            if self.land_during_look:
                self._landing = (channel, idempotency_key)
            await hook()
            if self._landed is not None:
                return self._landed
        return self._store(channel, idempotency_key)

    async def find_posted(self, channel: Channel, idempotency_key: str) -> SentMessage | None:
        first = next((sent for key, sent in self.stored if key == idempotency_key), None)
        if self._landing is not None and self._landing[1] == idempotency_key:
            # the stalled request reaches the platform just after this look
            self._landed = self._store(*self._landing)
            self._landing = None
        return first

    async def withdraw(self, sent: SentMessage) -> None:
        self.stored = [(k, s) for k, s in self.stored if s.message_id != sent.message_id]
        self.withdrawn.append(sent)

    async def send_dm(self, user_id: str, message: Message) -> SentMessage:
        return SentMessage("dm", user_id)


async def stalled_between_fence_and_send(
    db: Any, clock: FakeClock, *, land_during_look: bool
) -> tuple[ChannelPublisher, Any]:
    publisher = ChannelPublisher()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    first, hook = await paused_then_taken_over(db, clock, publisher)  # type: ignore[arg-type]
    publisher.stall_at, publisher.during_stall = 2, hook
    publisher.land_during_look = land_during_look
    report = await first.publish_due(clock.now())
    assert report.lost == [(1, 1)] and report.posted == []
    return publisher, report


@pytest.mark.parametrize("land_during_look", [False, True], ids=["after", "between"])
async def test_a_send_stalled_past_a_takeover_leaves_one_copy_and_the_record_names_it(
    db: Any, clock: FakeClock, land_during_look: bool
) -> None:
    # The process fenced, then stalled before its request reached the platform; another took
    # the day over and posted it. The stalled request lands after the other's copy of that part
    # ("after") or between the other's look and its send ("between"): either way the later copy
    # is withdrawn, by whichever process made it, and the channel keeps the first.
    publisher, _ = await stalled_between_fence_and_send(
        db, clock, land_during_look=land_during_look
    )
    copies = publisher.copies()
    assert len(copies) == parts_of_day(1) and set(copies.values()) == {1}
    assert len(publisher.withdrawn) == 1
    first_copy = dict(publisher.stored)
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
        links = (await session.execute(select(ThreadLink))).scalars().all()
    assert post.status == "posted"
    recorded = {
        f"studybot:{post.cohort_id}:1:{part}": ids["message_id"]
        for part, ids in post.message_ids.items()
    }
    assert recorded == {key: sent.message_id for key, sent in first_copy.items()}
    kept = {sent.message_id for sent in first_copy.values()}
    assert {link.thread_id for link in links} <= kept
    assert publisher.withdrawn[0].message_id not in kept


async def test_a_second_look_or_a_withdrawal_that_fails_never_undoes_the_send() -> None:
    channel = Channel("slack", "T1", "C1")
    mine, theirs = SentMessage("ts2", "C1"), SentMessage("ts1", "C1")

    class NoHistory(ChannelPublisher):
        async def find_posted(self, channel: Channel, key: str) -> SentMessage | None:
            raise PublishError("Slack refused the message (missing_scope)", transient=False)

    class NoDelete(ChannelPublisher):
        async def find_posted(self, channel: Channel, key: str) -> SentMessage | None:
            return theirs

        async def withdraw(self, sent: SentMessage) -> None:
            raise PublishError("Slack refused the message (cant_delete_message)", transient=False)

    assert await keep_first_copy(NoHistory(), channel, "k", mine) == mine  # type: ignore[arg-type]
    assert await keep_first_copy(NoDelete(), channel, "k", mine) == theirs  # type: ignore[arg-type]


async def test_a_send_within_its_fence_does_not_look_again(db: Any, clock: FakeClock) -> None:
    publisher = ChannelPublisher()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    looks = 0
    find = publisher.find_posted

    async def counting(channel: Channel, key: str) -> SentMessage | None:
        nonlocal looks
        looks += 1
        return await find(channel, key)

    publisher.find_posted = counting  # type: ignore[method-assign]
    report = await daily(db, publisher, clock).publish_due(clock.now())  # type: ignore[arg-type]
    assert report.posted == [(1, 1)] and looks == 0 and publisher.withdrawn == []


# --- what a pass does when something is missing or breaks ---------------------------------


async def test_no_publisher_defers_with_a_warning_and_claims_nothing(
    db: Any, publisher: RecordingPublisher, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    service = DailyService(db.sessions, load_library(), {}, clock=clock)
    with caplog.at_level("WARNING", logger="bot.services.daily"):
        report = await service.publish_due(clock.now())
    assert report.deferred == [(1, 1, "no slack face is running")]
    assert "no slack publisher is registered" in caplog.text
    service.add_publisher("slack", publisher)
    assert [day for _, day in (await service.publish_due(clock.now())).posted] == [1]


async def test_one_cohorts_unexpected_error_does_not_stop_the_others(
    db: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    class BrokenForOneChannel(RecordingPublisher):
        async def post(
            self, channel: Channel, message: Message, *, idempotency_key: str
        ) -> SentMessage:
            if channel.channel_id == "C-broken":
                raise RuntimeError("a bug in one face")
            return await super().post(channel, message, idempotency_key=idempotency_key)

    publisher = BrokenForOneChannel()
    service = CohortService(db.sessions, clock)
    broken = Actor("slack", "T1", "C-broken", "U-admin", "Ada", is_workspace_admin=True)
    defaults = {"timezone": "Europe/Berlin", "post_time": "08:00", "start_date": "2026-12-01"}
    await service.setup(broken, **defaults)
    await service.setup(ADMIN, **defaults)
    clock.advance(minutes=1)
    with caplog.at_level("ERROR", logger="bot.services.daily"):
        report = await daily(db, publisher, clock).publish_due(clock.now())
    assert report.posted == [(2, 1)]
    assert [(c, d) for c, d, _ in report.failed] == [(1, 1)]
    assert "a bug in one face" in caplog.text
    assert len(publisher.order) == parts_of_day(1)


async def test_a_day_due_before_the_schedule_was_set_is_not_reported_as_downtime(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    from bot.heartbeat import Heartbeat

    # The bot has been running all day; at 16:00 an admin creates a cohort starting today
    # (or moves its start date into the past): 08:00 is 8 h ago, beyond the 6 h grace.
    clock.set(START - timedelta(hours=2))
    heartbeat = Heartbeat(db.sessions, clock, process_id="bot-1")
    for _ in range(11):
        await heartbeat.beat()
        clock.advance(hours=1)
    await make_cohort(db, clock)
    service = daily(db, publisher, clock, holder="bot-1")
    report = await service.publish_due(clock.now())
    assert report.missed == [(1, 1)]
    assert publisher.dms == [] and publisher.order == []
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
    assert post.status == "missed" and "schedule" in (post.last_error or "")


async def test_a_new_cohort_started_in_the_past_on_a_fresh_install_is_not_downtime(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # No bot process has ever run here. At 16:00 the admin creates the first cohort, starting
    # two days ago: today's 08:00 post is 8 h old, beyond the 6 h grace.
    clock.set(START + timedelta(days=2, hours=8))
    await make_cohort(db, clock)
    report = await daily(db, publisher, clock, grace=timedelta(hours=6)).publish_due(clock.now())
    assert report.missed == [(1, 3)] and report.posted == []
    assert publisher.dms == []
    async with db.sessions() as session:
        post = (await session.execute(select(DayPost))).scalars().one()
    assert post.status == "missed"
    assert post.last_error == "scheduled before the cohort was created"
    # A day missed later, with no process running at its time, is an outage: admins are told.
    later = START + timedelta(days=3, hours=8)
    report = await daily(db, publisher, clock, grace=timedelta(hours=6)).publish_due(later)
    assert report.missed == [(1, 4)]
    assert len(publisher.dms) == 1 and "Day 4 was not posted" in (publisher.dms[0][1].text or "")


# --- the day as members read it ------------------------------------------------------------


def test_the_plan_lists_each_set_of_questions_once() -> None:
    head = compose_day(load_library().day(97))[0]
    for fld in head.fields:
        lines = fld.value.splitlines()
        assert len(lines) == len(set(lines)), fld.value
    serving = next(f for f in head.fields if "Serving" in f.name).value
    assert serving.count("Interview questions") == 1
    assert "D097-04, D097-05, D097-06, D097-07, D097-08, D097-09" in serving


def test_a_generated_day_says_where_it_comes_from_once() -> None:
    head = compose_day(load_library().day(1))[0]
    assert (head.text or "").lower().count("question bank") == 1


def test_no_day_names_a_command_that_does_not_exist_or_is_cut_for_a_platform() -> None:
    from gpu_runner.drills import DRILLS

    library = load_library()
    for day in range(1, library.days_total + 1):
        for message in compose_day(library.day(day)):
            text = " ".join(
                [message.header or "", message.text or "", message.footer or ""]
                + [f.value for f in message.fields]
            )
            # A drill hint names /submit with a drill the judge knows.
            for drill_id in re.findall(r"/submit (\S+)", text):
                assert drill_id in DRILLS, (day, drill_id)
            if message.key.startswith("q:"):
                assert message.thread_title == f"{message.key[2:]} {message.text}"


async def test_a_post_begun_before_claims_existed_looks_in_history_before_each_part(
    db: Any, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    # A record left 'claimed' by a bot of the previous version, which had posted two parts
    # and recorded only the first: there is no claim row, so this claim is epoch 1, yet not new.
    cohort = await make_cohort(db, clock)
    clock.advance(minutes=1)
    parts = compose_day(load_library().day(1))
    keys = [f"studybot:{cohort.id}:1:{m.key}" for m in parts]
    channel = Channel("slack", "T1", "C1")
    for message, key in zip(parts[:2], keys[:2], strict=True):
        await publisher.post(channel, message, idempotency_key=key)
    async with db.sessions() as session:
        session.add(
            DayPost(
                cohort_id=cohort.id,
                day=1,
                status="claimed",
                scheduled_for=START,
                claimed_by="old-bot",
                claimed_at=START,
                lease_until=START,
                message_ids={"plan": {"message_id": "ts0", "channel_id": "C1", "thread_id": None}},
            )
        )
        await session.commit()
    report = await daily(db, publisher, clock).publish_due(clock.now())
    assert report.posted == [(cohort.id, 1)]
    assert publisher.order == keys  # the second part was found, not sent again


async def test_after_an_unexpected_error_the_next_pass_resumes_at_once(
    db: Any, clock: FakeClock
) -> None:
    class FailsOnce(RecordingPublisher):
        async def post(
            self, channel: Channel, message: Message, *, idempotency_key: str
        ) -> SentMessage:
            sent = await super().post(channel, message, idempotency_key=idempotency_key)
            if len(self.order) == 2 and not self.dms:
                self.dms.append(("", message))  # fail once, after the platform took it
                raise RuntimeError("a bug after the send")
            return sent

    publisher = FailsOnce()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    service = daily(db, publisher, clock)
    assert (await service.publish_due(clock.now())).failed
    report = await service.publish_due(clock.now())  # no lease to wait out
    assert report.posted == [(1, 1)]
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)


async def test_fence_checks_that_all_stall_give_the_day_back_and_the_next_pass_resumes_it(
    db: Any, publisher: RecordingPublisher, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.store import claims, posts

    await make_cohort(db, clock)
    clock.advance(minutes=1)
    service = daily(db, publisher, clock)
    fence, record = claims.fence, posts.record_post_part_fenced
    window = service.policy.send_window.total_seconds()

    async def stalled(*args: Any, **kwargs: Any) -> None:
        clock.advance(window + 1)  # every check ends outside the window it should open
        await fence(*args, **kwargs)

    async def stalled_record(*args: Any, **kwargs: Any) -> bool:
        clock.advance(window + 1)  # a record is a fence check too, and it stalls the same
        return await record(*args, **kwargs)

    monkeypatch.setattr(claims, "fence", stalled)
    monkeypatch.setattr(posts, "record_post_part_fenced", stalled_record)
    first = await service.publish_due(clock.now())  # ends: no endless round of checks
    assert first.lost == [(1, 1)] and first.posted == []
    # The claim covered the first part; no check after it could cover another send.
    assert len(publisher.order) == 1
    monkeypatch.setattr(claims, "fence", fence)
    monkeypatch.setattr(posts, "record_post_part_fenced", record)
    second = await service.publish_due(clock.now())  # given back: no lease to wait out
    assert second.posted == [(1, 1)]
    assert len(publisher.order) == len(set(publisher.order)) == parts_of_day(1)


async def test_no_connection_is_held_while_the_platform_is_called(
    db: Any, clock: FakeClock
) -> None:
    seen: list[tuple[int, bool]] = []

    class Watching(RecordingPublisher):
        async def post(
            self, channel: Channel, message: Message, *, idempotency_key: str
        ) -> SentMessage:
            in_transaction = any(conn.in_transaction() for conn, _ in service.connections._idle)
            seen.append((service.connections.borrowed_count, in_transaction))
            return await super().post(channel, message, idempotency_key=idempotency_key)

    publisher = Watching()
    await make_cohort(db, clock)
    clock.advance(minutes=1)
    service = daily(db, publisher, clock)
    report = await service.publish_due(clock.now())
    assert report.posted == [(1, 1)]
    # the only cohort borrows no connection and leaves none in a transaction while it posts
    assert len(seen) == parts_of_day(1)
    assert all(borrowed == 0 and not busy for borrowed, busy in seen)
    assert service.connections.idle_count == 0  # all handed back to the pool after the pass
