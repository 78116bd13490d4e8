"""The daily post: compose a day from the content, and publish what is due exactly once.

Each cohort's day is a fenced claim (`bot.store.claims`, key ``day_post:<cohort>:<day>``).
Every step is one short transaction and no transaction is open while a platform call runs:
claim and open the record; then for each part not yet recorded, fence (renew the lease from
now), send, and fence again with the record in the same transaction; then finish. A process
whose claim was taken over (slow platform, paused VM) is refused before it sends and when it
records. A claim that is not brand new looks in the channel's history before each unrecorded
part, so a part the platform took but nobody recorded is never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.domain.claims import (
    ClaimLost,
    ClaimPolicy,
    ClaimToken,
    FenceTooSlow,
)
from bot.domain.curriculum import Slot, latest_slot
from bot.errors import StudyBotError
from bot.heartbeat import new_process_id
from bot.messages import (
    Channel,
    Message,
    MessageField,
    Publisher,
    PublishError,
    SentMessage,
    keep_first_copy,
)
from bot.services.cohorts import schedule_of
from bot.services.review_deck import members_with_reviews_due, reviews_due_line
from bot.store import claims as claim_repo
from bot.store import cohorts as cohort_repo
from bot.store import posts as post_repo
from bot.store import processes as process_repo
from bot.store.models import Cohort

if TYPE_CHECKING:
    from content import DayItem, DayPlan, Library

log = logging.getLogger(__name__)


@dataclass
class PublishReport:
    """What one `publish_due` pass did."""

    posted: list[tuple[int, int]] = field(default_factory=list)
    missed: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, int, str]] = field(default_factory=list)
    deferred: list[tuple[int, int, str]] = field(default_factory=list)
    # claims another process took over while this one worked on them: it stopped there
    lost: list[tuple[int, int]] = field(default_factory=list)
    # claims another process holds right now (taken over at once if its heartbeat stops)
    busy: list[tuple[int, int]] = field(default_factory=list)
    # Each day is composed once per pass, however many cohorts post it.
    composed: dict[int, list[Message]] = field(default_factory=dict, repr=False)
    # members with a review due before their cohort's local midnight, by cohort (read once)
    reviews_due: dict[int, int] = field(default_factory=dict, repr=False)


def post_key(cohort_id: int, day: int, part: str) -> str:
    """Return the idempotency key of one part of one day's post."""
    return f"studybot:{cohort_id}:{day}:{part}"


def _origin_note(plan: DayPlan) -> str:
    """Say a day was generated from the question bank, unless its theme already says so."""
    if plan.origin != "generated" or "question bank" in (plan.theme or "").lower():
        return ""
    return "generated from the question bank"


def _item_label(item: DayItem) -> str:
    label = item.title or "Interview questions"
    tag = f" · {item.tag}" if item.tag and item.tag not in label else ""
    src = f" ({item.source})" if item.source else ""
    drill = f" — drill `{item.drill}`: /submit {item.drill} <file>" if item.drill else ""
    return f"• **{label}**{tag}{src}{drill}"


def compose_day(plan: DayPlan, has_rubric: Callable[[str], bool] | None = None) -> list[Message]:
    """Turn a day plan into the messages of its post: the plan, then one thread per question.

    `has_rubric` tells which questions are graded; the others are marked as self-check.
    Consecutive items of a track that read the same (several untitled sets of interview
    questions) are listed once with all their question ids. Text is whole: each face's
    renderer trims or splits it for its platform.
    """
    fields: list[MessageField] = []
    questions: list[Message] = []
    for track in plan.tracks:
        lines: list[tuple[str, list[str]]] = []
        for item in track.items:
            label = _item_label(item)
            ids = [q.answer_id for q in item.questions]
            if lines and lines[-1][0] == label:
                lines[-1][1].extend(ids)
            else:
                lines.append((label, ids))
            for q in item.questions:
                context = item.title or track.topic or track.name
                graded = has_rubric(q.answer_id) if has_rubric else bool(q.bank_id)
                rubric = "" if graded else " · self-check (no rubric)"
                questions.append(
                    Message(
                        header=f"{q.answer_id} · {context}",
                        text=q.text,
                        thread_starter=True,
                        thread_title=f"{q.answer_id} {q.text}",
                        footer=f"Answer in this thread or with /answer {q.answer_id}{rubric}",
                        key=f"q:{q.answer_id}",
                    )
                )
        rendered = [label + (f" — Q: {', '.join(ids)}" if ids else "") for label, ids in lines]
        fields.append(MessageField(track.name, "\n".join(rendered) or "—"))
    origin = _origin_note(plan)
    theme = plan.theme or ""
    text = f"{theme} ({origin})" if theme and origin else theme or origin.capitalize()
    head = Message(
        header=f"Day {plan.day} of {plan.total_days} — {plan.title}",
        text=text,
        fields=tuple(fields),
        footer=f"{len(questions)} questions below: answer each in its thread. /help for commands.",
        key="plan",
    )
    return [head, *questions]


def compose_day_summary(plan: DayPlan) -> Message:
    """Turn a day plan into one message listing every question: the private /today view."""
    lines: list[str] = []
    if plan.theme:
        lines += [plan.theme, ""]
    for track in plan.tracks:
        lines.append(f"**{track.name}**")
        for item in track.items:
            label = item.title or "Interview questions"
            extra = f" — drill `{item.drill}`" if item.drill else ""
            lines.append(f"• {label}{extra}")
            lines.extend(f"  `{q.answer_id}` {q.text}" for q in item.questions)
        lines.append("")
    origin = f" · {_origin_note(plan)}" if _origin_note(plan) else ""
    return Message(
        header=f"Day {plan.day} of {plan.total_days} — {plan.title}",
        text="\n".join(lines).strip(),
        footer=f"Answer with /answer <id> <your answer>{origin}",
        key="summary",
    )


def with_cohort_lines(messages: list[Message], lines: Iterable[str]) -> list[Message]:
    """Return a day's post with a cohort's own lines (reviews due) added to its plan message."""
    extra = "\n".join(line for line in lines if line)
    if not extra:
        return messages
    return [
        replace(m, text=f"{m.text}\n\n{extra}" if m.text else extra) if m.key == "plan" else m
        for m in messages
    ]


class ConnectionReserve:
    """Up to `size` database connections kept open while publishing passes run.

    Each step borrows one for a single short transaction and gives it back before any platform
    call, so no cohort ever holds a connection while it waits on a platform; the reserve skips
    the pool's ping and reset per step, which dominate a step's cost. A connection nobody
    borrowed for `idle_s` goes back to the pool, so a pass stalled on a platform holds none.
    """

    def __init__(self, engine: AsyncEngine, size: int, *, idle_s: float = 2.0) -> None:
        self._engine = engine
        self._size = size
        self._borrowed = 0
        self._slots = asyncio.Semaphore(size)
        self._idle: list[tuple[AsyncConnection, float]] = []  # most recently used last
        self.idle_s = idle_s
        self._sweeper: asyncio.Task[None] | None = None

    async def acquire(self) -> AsyncConnection:
        """Return an open connection (waiting while all `size` are in use)."""
        await self._slots.acquire()
        if self._idle:
            self._borrowed += 1
            return self._idle.pop()[0]
        try:
            conn = await self._engine.connect()
        except BaseException:
            self._slots.release()
            raise
        self._borrowed += 1
        return conn

    async def give_back(self, conn: AsyncConnection, *, healthy: bool) -> None:
        """Keep a connection for the next step, or close one a failed step may have broken."""
        try:
            if healthy:
                # loop time, not the injected clock: this is about sockets, not the schedule
                self._idle.append((conn, asyncio.get_running_loop().time()))
            else:
                await conn.close()
        finally:
            self._borrowed -= 1
            self._slots.release()

    def start_sweeping(self) -> None:
        """Return connections idle longer than `idle_s` to the pool until `close_idle`."""
        if self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep(), name="connection reserve sweep")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.idle_s)
            cutoff = asyncio.get_running_loop().time() - self.idle_s
            stale = [conn for conn, since in self._idle if since <= cutoff]
            self._idle = [(conn, since) for conn, since in self._idle if since > cutoff]
            for conn in stale:
                await conn.close()

    async def close_idle(self) -> None:
        """Stop sweeping and return every idle connection to the pool (between passes)."""
        sweeper, self._sweeper = self._sweeper, None
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        idle, self._idle = self._idle, []
        for conn, _ in idle:
            await conn.close()

    @property
    def idle_count(self) -> int:
        """Return how many connections the reserve holds unused right now."""
        return len(self._idle)

    @property
    def borrowed_count(self) -> int:
        """Return how many connections steps are using right now."""
        return self._borrowed


class DailyService:
    """Compose days and publish the posts that are due."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        library: Library,
        publishers: Mapping[str, Publisher],
        *,
        clock: Clock | None = None,
        grace: timedelta = timedelta(hours=6),
        max_attempts: int = 6,
        base_backoff_s: float = 1.0,
        concurrency: int = 10_000,
        db_concurrency: int = 8,
        holder: str | None = None,
        policy: ClaimPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine: AsyncEngine = sessions.kw["bind"]
        self._clock: Clock = clock or SystemClock()
        self._library = library
        self._publishers = dict(publishers)
        self.grace = grace
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        # Cohorts in flight wait on the platform and hold no connection meanwhile, so they
        # are bounded loosely; the database is bounded by `db_concurrency` connections.
        self._semaphore = asyncio.Semaphore(concurrency)
        self._db_slots = asyncio.Semaphore(db_concurrency)
        self.connections = ConnectionReserve(self._engine, db_concurrency)
        self._one_statement_record = post_repo.fenced_record_is_one_statement(
            self._engine.dialect.name
        )
        self._passes = 0
        self.holder = holder or new_process_id()
        self.policy = policy or ClaimPolicy()

    @property
    def worker_id(self) -> str:
        """Return the id this process claims work under (its heartbeat's process id)."""
        return self.holder

    def add_publisher(self, platform: str, publisher: Publisher) -> None:
        """Register the publisher of a face."""
        self._publishers[platform] = publisher

    def day_plan(self, day: int) -> DayPlan:
        """Return the plan of a day or a clear error."""
        total = self._library.days_total
        if not 1 <= day <= total:
            raise StudyBotError(f"Day {day} is outside the curriculum (1-{total}).")
        return self._library.day(day)

    def compose_day(self, day: int) -> list[Message]:
        """Return the messages of a day's post."""
        return compose_day(self.day_plan(day), self.has_rubric)

    def has_rubric(self, qid: str) -> bool:
        """Tell whether answers to a question are graded against a rubric."""
        return bool(self._library.rubric_for(qid))

    def compose_day_summary(self, day: int) -> Message:
        """Return the one-message private view of a day."""
        return compose_day_summary(self.day_plan(day))

    def compose_question(self, qid: str) -> Message:
        """Show one question with its rubric (bank ids and day-question ids alike)."""
        qid = qid.strip().upper()
        found = self._library.find_question(qid)
        text = getattr(found, "text", "")
        rubric = self._library.rubric_for(qid)
        fields = []
        if rubric:
            fields.append(MessageField("Rubric", "\n".join(f"• {p}" for p in rubric)))
        else:
            fields.append(MessageField("Rubric", "No rubric for this question: self-check."))
        tests = getattr(found, "tests", None)
        if tests:
            fields.append(MessageField("What it tests", tests))
        return Message(
            header=qid, text=text, fields=tuple(fields), footer=f"Answer with /answer {qid}"
        )

    # --- publishing ---------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _step(self, *, one_statement: bool = False) -> AsyncIterator[AsyncConnection]:
        """Run one short transaction (committed on exit, rolled back on an error).

        A bare connection from the pass's reserve, not an ORM session from the pool: steps run
        once per message of every cohort's post, and a pool checkout pings and resets. A step
        of one statement runs without BEGIN and COMMIT: the statement is its own transaction.
        """
        conn = await self.connections.acquire()
        healthy = False
        try:
            if one_statement:
                yield conn  # no transaction begun: the store runs it as its own
                if conn.in_transaction():  # the statement went through an autobegun one
                    await conn.commit()
            else:
                async with conn.begin():
                    yield conn
            healthy = True
        finally:
            await self.connections.give_back(conn, healthy=healthy)

    async def publish_due(
        self, now: datetime, *, cohort_ids: Iterable[int] | None = None
    ) -> PublishReport:
        """Post every cohort's latest due day that has not been posted, once.

        One cohort's unexpected error is logged and reported as a failure of that cohort; the
        others go on.
        """
        started = self._clock.now()

        def step_now() -> datetime:
            # the pass's own time, moving on with the clock while the pass runs
            return now + (self._clock.now() - started)

        self._passes += 1
        self.connections.start_sweeping()
        try:
            return await self._publish_due(now, step_now, cohort_ids)
        finally:
            self._passes -= 1
            if not self._passes:
                await self.connections.close_idle()

    async def _publish_due(
        self, now: datetime, step_now: Callable[[], datetime], cohort_ids: Iterable[int] | None
    ) -> PublishReport:
        report = PublishReport()
        wanted = set(cohort_ids) if cohort_ids is not None else None
        due: list[tuple[Cohort, Slot]] = []
        async with self._db_slots, self._sessions() as session:
            cohorts = await cohort_repo.list_cohorts(session, include_paused=False)
            for cohort in cohorts:
                if wanted is not None and cohort.id not in wanted:
                    continue
                slot = latest_slot(schedule_of(cohort), now)
                if slot is not None:
                    due.append((cohort, slot))
            statuses = await post_repo.post_statuses(session, days={s.day for _, s in due})
            todo = [
                (cohort, slot)
                for cohort, slot in due
                if statuses.get((cohort.id or 0, slot.day), "claimed") == "claimed"
            ]
            # In the same read, not a step per cohort: one count per time zone for all of them.
            report.reviews_due = await members_with_reviews_due(
                session, [cohort for cohort, _ in todo], now=now
            )
        results = await asyncio.gather(
            *(
                self._publish_cohort(
                    cohort, slot, now, step_now, report, known=(cohort.id, slot.day) in statuses
                )
                for cohort, slot in todo
            ),
            return_exceptions=True,
        )
        for (cohort, slot), result in zip(todo, results, strict=True):
            if result is None:
                continue
            if not isinstance(result, Exception):
                raise result  # the process is going down (cancelled, interrupted): let it
            log.error(
                "posting day %d to cohort %s failed unexpectedly; other cohorts go on",
                slot.day,
                cohort.id,
                exc_info=result,
            )
            report.failed.append((cohort.id or 0, slot.day, f"unexpected error: {result!r}"))
        return report

    def _composed(self, day: int, report: PublishReport) -> list[Message]:
        messages = report.composed.get(day)
        if messages is None:
            messages = report.composed[day] = self.compose_day(day)
        return messages

    async def _publish_cohort(
        self,
        cohort: Cohort,
        slot: Slot,
        now: datetime,
        step_now: Callable[[], datetime],
        report: PublishReport,
        *,
        known: bool,
    ) -> None:
        assert cohort.id is not None
        if not known and now - slot.due_at > self.grace:
            await self._record_missed(cohort, slot, now, report)
            return
        publisher = self._publishers.get(cohort.platform)
        if publisher is None:
            # Not dropped: nothing is claimed, so the next pass (once the face is up) posts it.
            log.warning(
                "day %d of cohort %s not posted yet: no %s publisher is registered "
                "(the %s face is not running); the next pass tries again",
                slot.day,
                cohort.id,
                cohort.platform,
                cohort.platform,
            )
            report.deferred.append((cohort.id, slot.day, f"no {cohort.platform} face is running"))
            return
        async with self._semaphore:
            await self._post_day(cohort, slot, publisher, step_now, report)

    async def _post_day(
        self,
        cohort: Cohort,
        slot: Slot,
        publisher: Publisher,
        step_now: Callable[[], datetime],
        report: PublishReport,
    ) -> None:
        assert cohort.id is not None
        day = slot.day
        claimed_from = self._clock.now()
        async with self._step() as session:
            token = await claim_repo.acquire_claim(
                session,
                key=post_repo.day_post_key(cohort.id, day),
                holder=self.holder,
                now=step_now(),
                policy=self.policy,
            )
            if token is None:
                report.busy.append((cohort.id, day))
                return
            post = await post_repo.open_day_post(
                session,
                cohort_id=cohort.id,
                day=day,
                scheduled_for=slot.due_at,
                holder=self.holder,
                now=step_now(),
            )
            if post.status != "claimed":  # recorded (e.g. as missed) by another process
                await claim_repo.finish_claim(session, token=token, now=step_now())
                return
        if token.taken_from:
            log.info(
                "day %d of cohort %s: taken over from %s (%s), epoch %d",
                day,
                cohort.id,
                token.taken_from,
                token.reason,
                token.epoch,
            )
        try:
            await self._send_parts(
                cohort, day, token, post, publisher, step_now, report, claimed_from
            )
        except FenceTooSlow as exc:
            # The claim may still be ours, but no check could cover a send: give it back, so
            # the next pass (this process's or another's) looks in the channel, then resumes.
            log.warning("day %d of cohort %s: %s; the claim is given back", day, cohort.id, exc)
            await self._release_after_error(token, post.id, exc, step_now)
            report.lost.append((cohort.id, day))
        except ClaimLost:
            log.warning(
                "day %d of cohort %s: another process took the claim over (epoch %d was ours); "
                "this process stops here and records nothing more",
                day,
                cohort.id,
                token.epoch,
            )
            report.lost.append((cohort.id, day))
        except Exception as exc:
            # A bug or a database hiccup: give the claim back so the next pass resumes at
            # once (looking in the channel's history first) instead of after the lease.
            await self._release_after_error(token, post.id, exc, step_now)
            raise

    async def _send_parts(
        self,
        cohort: Cohort,
        day: int,
        token: ClaimToken,
        post: post_repo.OpenPost,
        publisher: Publisher,
        step_now: Callable[[], datetime],
        report: PublishReport,
        claimed_from: datetime,
    ) -> None:
        assert cohort.id is not None
        try:
            messages = self._composed(day, report)
        except StudyBotError as exc:
            async with self._step() as session:
                await claim_repo.fence(session, token=token, now=step_now(), policy=self.policy)
                await post_repo.finish_day_post(
                    session, post_id=post.id, status="failed", now=step_now(), error=str(exc)
                )
                await claim_repo.finish_claim(session, token=token, now=step_now(), error=str(exc))
            report.failed.append((cohort.id, day, str(exc)))
            return
        channel = Channel(cohort.platform, cohort.workspace_id, cohort.channel_id)  # type: ignore[arg-type]
        recorded = dict(post.message_ids)
        due_line = reviews_due_line(report.reviews_due.get(cohort.id, 0))
        messages = with_cohort_lines(messages, [due_line or ""])
        # Brand new work has nothing out there yet; anything else may have parts the platform
        # took that nobody recorded (a crash, a pause, a lost answer): look before sending.
        look_first = not (token.fresh and post.created)
        todo = [m for m in messages if m.key not in recorded]  # recorded: never twice
        # when the last fence check that passed began: taking the claim was the first
        fenced_from: datetime | None = claimed_from

        async def fence() -> None:
            # A fence checked moments ago (the last record's) covers the next send; one begun
            # before a pause or a stall does not: the claim may be another's by now.
            nonlocal fenced_from

            async def check(checked_from: datetime) -> None:
                async with self._step() as conn:
                    await claim_repo.fence(conn, token=token, now=step_now(), policy=self.policy)

            fenced_from = await claim_repo.fence_for_send(
                self.policy, self._clock.now, fenced_from, check, token=token
            )

        def fence_lapsed() -> bool:
            # A send that ends outside the window its fence covers may have been taken over.
            return fenced_from is None or not self.policy.fence_still_fresh(
                fenced_from, self._clock.now()
            )

        for index, message in enumerate(todo):
            try:
                sent = await self._send_with_retry(
                    publisher,
                    channel,
                    message,
                    post_key(cohort.id, day, message.key),
                    look_first=look_first,
                    fence=fence,
                    fence_lapsed=fence_lapsed,
                )
            except PublishError as exc:
                await self._give_up(cohort, day, token, post.id, exc, step_now, report)
                return
            recorded[message.key] = {
                "message_id": sent.message_id,
                "channel_id": sent.channel_id,
                "thread_id": sent.thread_id,
            }
            last = index == len(todo) - 1  # the day is complete: finished with its record
            checked_from = self._clock.now()
            async with self._step(one_statement=self._one_statement_record) as conn:
                if not await post_repo.record_post_part_fenced(
                    conn,
                    token=token,
                    post_id=post.id,
                    message_ids=recorded,
                    lease_until=self.policy.lease_end(step_now()),
                    thread=self._thread_link(cohort, day, message, sent),
                    posted_at=step_now() if last else None,
                ):
                    raise ClaimLost(token.key, token.epoch)
            fenced_from = checked_from
        if not todo:  # every part was recorded before (a crash right after the last one)
            async with self._step() as conn:
                await claim_repo.fence(conn, token=token, now=step_now(), policy=self.policy)
                await post_repo.finish_day_post(
                    conn, post_id=post.id, status="posted", now=step_now()
                )
                await claim_repo.finish_claim(conn, token=token, now=step_now())
        report.posted.append((cohort.id, day))

    async def _release_after_error(
        self,
        token: ClaimToken,
        post_id: int,
        exc: Exception,
        step_now: Callable[[], datetime],
    ) -> None:
        try:
            async with self._step() as conn:
                if await claim_repo.release_claim(
                    conn, token=token, now=step_now(), error=repr(exc)
                ):
                    await post_repo.note_post_error(conn, post_id=post_id, error=repr(exc))
        except Exception:
            log.warning(
                "could not release %s; its lease runs out instead", token.key, exc_info=True
            )

    async def _give_up(
        self,
        cohort: Cohort,
        day: int,
        token: ClaimToken,
        post_id: int,
        exc: PublishError,
        step_now: Callable[[], datetime],
        report: PublishReport,
    ) -> None:
        """Release the claim after a transient error; fail and pause after a permanent one."""
        assert cohort.id is not None
        if exc.transient:
            async with self._step() as session:
                if await claim_repo.release_claim(
                    session, token=token, now=step_now(), error=str(exc)
                ):
                    await post_repo.note_post_error(session, post_id=post_id, error=str(exc))
            report.deferred.append((cohort.id, day, str(exc)))
            return
        async with self._db_slots, self._sessions.begin() as session:
            await claim_repo.fence(session, token=token, now=step_now(), policy=self.policy)
            await post_repo.finish_day_post(
                session, post_id=post_id, status="failed", now=step_now(), error=str(exc)
            )
            await claim_repo.finish_claim(session, token=token, now=step_now(), error=str(exc))
            live = await cohort_repo.get_cohort(session, cohort_id=cohort.id)
            if live is not None:
                await cohort_repo.update_cohort(
                    session, cohort=live, paused=True, paused_reason=f"posting failed: {exc}"
                )
        report.failed.append((cohort.id, day, str(exc)))
        await self._tell_admins(
            cohort,
            f"I could not post day {day} to this cohort's channel and paused it: "
            f"{exc}. Fix the channel or my permissions, then /cohort resume.",
        )

    async def _record_missed(
        self, cohort: Cohort, slot: Slot, now: datetime, report: PublishReport
    ) -> None:
        """Record a day too late to post; tell the admins only if the bot was down at its time.

        A day that became due before the cohort existed, or while a bot process was running,
        was not missed by an outage: the cohort was created or moved (start date in the past),
        or paused, after its time. On a fresh install no process has ever run before today.
        """
        assert cohort.id is not None
        async with self._step() as session:
            if slot.due_at < cohort.created_at:
                was_up, reason = True, "scheduled before the cohort was created"
            elif await process_repo.any_process_alive_at(
                session, when=slot.due_at, stale_after=self.policy.stale_after
            ):
                was_up, reason = True, "scheduled before the cohort's schedule took effect"
            else:
                was_up, reason = False, "the bot was down at the post time"
            recorded = await post_repo.record_missed_day(
                session,
                cohort_id=cohort.id,
                day=slot.day,
                scheduled_for=slot.due_at,
                now=now,
                reason=reason,
            )
        if not recorded:
            return
        report.missed.append((cohort.id, slot.day))
        if was_up:
            log.info("day %d of cohort %s recorded as not posted: %s", slot.day, cohort.id, reason)
            return
        late = now - slot.due_at
        await self._tell_admins(
            cohort,
            f"Day {slot.day} was not posted: the bot was down and it is now "
            f"{late.total_seconds() / 3600:.1f} h late (grace "
            f"{self.grace.total_seconds() / 3600:g} h). Members can still see it "
            f"with /day {slot.day}.",
        )

    async def _send_with_retry(
        self,
        publisher: Publisher,
        channel: Channel,
        message: Message,
        key: str,
        *,
        look_first: bool,
        fence: Callable[[], Awaitable[None]],
        fence_lapsed: Callable[[], bool],
    ) -> SentMessage:
        """Send with backoff on transient errors; look before retries, fence just before sending.

        A send that may have raced another process's (this process took the part over, or its
        send ended outside the window its fence covers) looks again once the platform took it:
        a copy posted before its own stands and its own is withdrawn (`keep_first_copy`).
        """
        attempt = 0
        while True:
            try:
                if attempt or look_first:
                    found = await publisher.find_posted(channel, key)
                    if found is not None:
                        return found
                await fence()  # refused before sending once the claim was taken over
                sent = await publisher.post(channel, message, idempotency_key=key)
                if look_first or fence_lapsed():
                    return await keep_first_copy(publisher, channel, key, sent)
                return sent
            except PublishError as exc:
                attempt += 1
                if not exc.transient or attempt >= self.max_attempts:
                    raise
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else (self.base_backoff_s * 2 ** (attempt - 1) * (0.5 + random.random()))
                )
                log.warning("transient publish error (%s); retry %d in %.2fs", exc, attempt, delay)
                await self._clock.sleep(delay)

    def _thread_link(
        self, cohort: Cohort, day: int, message: Message, sent: SentMessage
    ) -> post_repo.NewThreadLink | None:
        """Return the link from a question's thread to its question, for thread replies."""
        if not (message.thread_starter and message.key.startswith("q:")):
            return None
        assert cohort.id is not None
        return post_repo.NewThreadLink(
            platform=cohort.platform,
            channel_id=sent.channel_id,
            thread_id=sent.thread_id or sent.message_id,
            cohort_id=cohort.id,
            day=day,
            question_id=message.key[2:],
            created_at=self._clock.now(),
        )

    async def _tell_admins(self, cohort: Cohort, text: str) -> None:
        """DM the cohort's admins; their list is read first, no transaction open while sending."""
        assert cohort.id is not None
        publisher = self._publishers.get(cohort.platform)
        if publisher is None:
            # Never dropped silently: the operator reads what the admins could not be told.
            log.error(
                "no %s face is running: cohort %s's admins were not told: %s",
                cohort.platform,
                cohort.id,
                text,
            )
            return
        async with self._db_slots, self._sessions() as session:
            admins = await cohort_repo.list_members(session, cohort_id=cohort.id, admins_only=True)
            admin_ids = [admin.platform_user_id for admin in admins]
        for admin_id in admin_ids:
            try:
                await publisher.send_dm(
                    admin_id,
                    Message(header=f"StudyBot · {cohort.name}", text=text, tone="warning"),
                )
            except PublishError as exc:
                log.warning("could not tell admin %s: %s", admin_id, exc)
