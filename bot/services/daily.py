"""The daily post: compose a day from the content, and publish what is due exactly once."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock, SystemClock
from bot.domain.curriculum import latest_slot
from bot.errors import StudyBotError
from bot.messages import Channel, Message, MessageField, Publisher, PublishError, SentMessage
from bot.services.cohorts import schedule_of
from bot.store import cohorts as cohort_repo
from bot.store import posts as post_repo
from bot.store.models import Cohort, DayPost, ThreadLink

if TYPE_CHECKING:
    from content import DayPlan, Library

log = logging.getLogger(__name__)

DRILL_HINT = "Practise it as a code drill: studybot drill template {drill}"


@dataclass
class PublishReport:
    """What one `publish_due` pass did."""

    posted: list[tuple[int, int]] = field(default_factory=list)
    missed: list[tuple[int, int]] = field(default_factory=list)
    failed: list[tuple[int, int, str]] = field(default_factory=list)
    deferred: list[tuple[int, int, str]] = field(default_factory=list)
    # Each day is composed once per pass, however many cohorts post it.
    composed: dict[int, list[Message]] = field(default_factory=dict, repr=False)


def post_key(cohort_id: int, day: int, part: str) -> str:
    """Return the idempotency key of one part of one day's post."""
    return f"studybot:{cohort_id}:{day}:{part}"


def compose_day(plan: DayPlan, has_rubric: Callable[[str], bool] | None = None) -> list[Message]:
    """Turn a day plan into the messages of its post: the plan, then one thread per question.

    `has_rubric` tells which questions are graded; the others are marked as self-check.
    """
    fields: list[MessageField] = []
    questions: list[Message] = []
    for track in plan.tracks:
        lines: list[str] = []
        for item in track.items:
            label = item.title or "Interview questions"
            tag = f" · {item.tag}" if item.tag and item.tag not in label else ""
            src = f" ({item.source})" if item.source else ""
            line = f"• **{label}**{tag}{src}"
            if item.drill:
                line += f" — drill `{item.drill}`"
            ids = [q.answer_id for q in item.questions]
            if ids:
                line += f" — Q: {', '.join(ids)}"
            lines.append(line)
            for q in item.questions:
                context = item.title or track.topic or track.name
                graded = has_rubric(q.answer_id) if has_rubric else bool(q.bank_id)
                rubric = "" if graded else " · self-check (no rubric)"
                questions.append(
                    Message(
                        header=f"{q.answer_id} · {context}"[:150],
                        text=q.text,
                        thread_starter=True,
                        thread_title=f"{q.answer_id} {q.text}"[:100],
                        footer=f"Answer in this thread or with /answer {q.answer_id}{rubric}",
                        key=f"q:{q.answer_id}",
                    )
                )
        fields.append(MessageField(track.name, "\n".join(lines) or "—"))
    origin = " (generated from the question bank)" if plan.origin == "generated" else ""
    head = Message(
        header=f"Day {plan.day} of {plan.total_days} — {plan.title}",
        text=(plan.theme or "") + origin,
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
    origin = " · generated from the question bank" if plan.origin == "generated" else ""
    return Message(
        header=f"Day {plan.day} of {plan.total_days} — {plan.title}",
        text="\n".join(lines).strip(),
        footer=f"Answer with /answer <id> <your answer>{origin}",
        key="summary",
    )


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
        concurrency: int = 200,
        worker_id: str | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock: Clock = clock or SystemClock()
        self._library = library
        self._publishers = dict(publishers)
        self.grace = grace
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self._semaphore = asyncio.Semaphore(concurrency)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

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

    async def publish_due(
        self, now: datetime, *, cohort_ids: Iterable[int] | None = None
    ) -> PublishReport:
        """Post every cohort's latest due day that has not been posted, once."""
        report = PublishReport()
        async with self._sessions() as session:
            cohorts = await cohort_repo.list_cohorts(session, include_paused=False)
        wanted = set(cohort_ids) if cohort_ids is not None else None
        todo = [c for c in cohorts if wanted is None or c.id in wanted]
        await asyncio.gather(*(self._publish_cohort(c, now, report) for c in todo))
        return report

    async def _publish_cohort(self, cohort: Cohort, now: datetime, report: PublishReport) -> None:
        assert cohort.id is not None
        slot = latest_slot(schedule_of(cohort), now)
        if slot is None:
            return
        async with self._semaphore, self._sessions() as session:
            existing = await post_repo.get_day_post(session, cohort_id=cohort.id, day=slot.day)
            if existing is not None and existing.status != "claimed":
                return
            if existing is None and now - slot.due_at > self.grace:
                if await post_repo.record_missed_day(
                    session, cohort_id=cohort.id, day=slot.day, scheduled_for=slot.due_at, now=now
                ):
                    report.missed.append((cohort.id, slot.day))
                    late = now - slot.due_at
                    await self._tell_admins(
                        session,
                        cohort,
                        f"Day {slot.day} was not posted: the bot was down and it is now "
                        f"{late.total_seconds() / 3600:.1f} h late (grace "
                        f"{self.grace.total_seconds() / 3600:g} h). Members can still see it "
                        f"with /day {slot.day}.",
                    )
                return
            claim = await post_repo.claim_day_post(
                session,
                cohort_id=cohort.id,
                day=slot.day,
                scheduled_for=slot.due_at,
                worker=self.worker_id,
                now=now,
            )
            if claim is None:
                return
            await self._post_claimed(session, cohort, claim.post, now, report, claim.resumed)

    async def _post_claimed(
        self,
        session: AsyncSession,
        cohort: Cohort,
        post: DayPost,
        now: datetime,
        report: PublishReport,
        resumed: bool,
    ) -> None:
        """Send the parts not yet recorded.

        A resumed claim (its worker died, or it was released after errors) may have parts the
        platform accepted but nobody recorded: each is looked for before it is sent.
        """
        assert cohort.id is not None
        publisher = self._publishers.get(cohort.platform)
        if publisher is None:
            await post_repo.release_day_post(
                session, post=post, now=now, error=f"no {cohort.platform} face is running"
            )
            report.deferred.append((cohort.id, post.day, "no publisher"))
            return
        channel = Channel(cohort.platform, cohort.workspace_id, cohort.channel_id)  # type: ignore[arg-type]
        try:
            messages = report.composed.get(post.day) or self.compose_day(post.day)
            report.composed[post.day] = messages
        except StudyBotError as exc:
            await post_repo.finish_day_post(
                session, post=post, status="failed", now=now, error=str(exc)
            )
            report.failed.append((cohort.id, post.day, str(exc)))
            return
        for message in messages:
            if message.key in post.message_ids:
                continue  # sent before a crash or a retry: never twice
            key = post_key(cohort.id, post.day, message.key)
            try:
                sent = await self._send_with_retry(
                    publisher, channel, message, key, resumed=resumed
                )
            except PublishError as exc:
                if exc.transient:
                    await post_repo.release_day_post(session, post=post, now=now, error=str(exc))
                    report.deferred.append((cohort.id, post.day, str(exc)))
                    return
                await post_repo.finish_day_post(
                    session, post=post, status="failed", now=now, error=str(exc)
                )
                await cohort_repo.update_cohort(
                    session,
                    cohort=await session.merge(cohort),
                    paused=True,
                    paused_reason=f"posting failed: {exc}",
                )
                await session.commit()
                report.failed.append((cohort.id, post.day, str(exc)))
                await self._tell_admins(
                    session,
                    cohort,
                    f"I could not post day {post.day} to this cohort's channel and paused it: "
                    f"{exc}. Fix the channel or my permissions, then /cohort resume.",
                )
                return
            await post_repo.record_post_part(
                session,
                post=post,
                part=message.key,
                sent={
                    "message_id": sent.message_id,
                    "channel_id": sent.channel_id,
                    "thread_id": sent.thread_id,
                },
                lease_until=now + timedelta(minutes=5),
                thread=self._thread_link(cohort, post.day, message, sent),
            )
        await post_repo.finish_day_post(session, post=post, status="posted", now=now)
        report.posted.append((cohort.id, post.day))

    async def _send_with_retry(
        self, publisher: Publisher, channel: Channel, message: Message, key: str, *, resumed: bool
    ) -> SentMessage:
        """Send with backoff on transient errors, looking for an earlier copy before each retry."""
        attempt = 0
        while True:
            try:
                if attempt or resumed:
                    found = await publisher.find_posted(channel, key)
                    if found is not None:
                        return found
                return await publisher.post(channel, message, idempotency_key=key)
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

    @staticmethod
    def _thread_link(
        cohort: Cohort, day: int, message: Message, sent: SentMessage
    ) -> ThreadLink | None:
        """Return the link from a question's thread to its question, for thread replies."""
        if not (message.thread_starter and message.key.startswith("q:")):
            return None
        assert cohort.id is not None
        return ThreadLink(
            platform=cohort.platform,
            channel_id=sent.channel_id,
            thread_id=sent.thread_id or sent.message_id,
            cohort_id=cohort.id,
            day=day,
            question_id=message.key[2:],
        )

    async def _tell_admins(self, session: AsyncSession, cohort: Cohort, text: str) -> None:
        assert cohort.id is not None
        publisher = self._publishers.get(cohort.platform)
        if publisher is None:
            return
        admins = await cohort_repo.list_members(session, cohort_id=cohort.id, admins_only=True)
        for admin in admins:
            try:
                await publisher.send_dm(
                    admin.platform_user_id,
                    Message(header=f"StudyBot · {cohort.name}", text=text, tone="warning"),
                )
            except PublishError as exc:
                log.warning("could not tell admin %s: %s", admin.platform_user_id, exc)
