"""The weekly recap: each Monday at the cohort's post time, last week in one post with a chart.

A bot that was down at that time posts it when it comes back, any day until the next Monday's
post time (then that week's recap is the one due, and the missed one is not sent).

Exactly once across restarts and processes, like the daily post: a fenced claim keyed by
(cohort, week) is taken first; a resumed claim looks for the post on the platform before sending
again; the send is fenced and the claim is finished under the fence after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain import leaderboards as rules
from bot.domain import streaks
from bot.domain.claims import ClaimLost, ClaimPolicy
from bot.messages import (
    Channel,
    Image,
    Message,
    MessageField,
    Publisher,
    PublishError,
    keep_first_copy,
)
from bot.services.standings import StandingsService
from bot.store import claims as claim_repo
from bot.store import cohorts as cohort_repo
from bot.store import points as points_store
from bot.store import standings as repo
from bot.store.models import Cohort

log = logging.getLogger(__name__)
TOP = 5


@dataclass(frozen=True)
class RecapLine:
    """A member and a number (points, a streak's days, records)."""

    name: str
    value: int


@dataclass(frozen=True)
class HardQuestion:
    """A question the cohort found hard last week: its lowest average scores."""

    question_id: str
    average: float
    answers: int


@dataclass(frozen=True)
class Recap:
    """A cohort's week: what the Monday post shows."""

    cohort_id: int
    cohort_name: str
    week_start: date  # a Monday, in the cohort's zone
    top: tuple[RecapLine, ...]
    streaks: tuple[RecapLine, ...]
    mocks_held: int
    drill_records: tuple[RecapLine, ...]
    hardest: tuple[HardQuestion, ...]
    daily_points: tuple[tuple[date, int], ...]


@dataclass
class RecapReport:
    """What one pass of `publish_due` did."""

    posted: list[int] = field(default_factory=list)
    busy: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    # claims another process took over while this one worked on them: it stopped there
    lost: list[int] = field(default_factory=list)


def recap_key(cohort_id: int, week_start: date) -> str:
    """Return the claim (and idempotency) key of a cohort's recap of one week."""
    return f"recap:{cohort_id}:{week_start.isoformat()}"


def due_week(cohort: Cohort, now: datetime) -> date | None:
    """Return the Monday of the week to recap now, or None when there is none.

    A week's recap is due from the next Monday's post time in the cohort's zone until the
    Monday after, at its post time, when the next week's takes its place: a bot that was down
    all Monday posts it later in the week, and a recap older than its week is never sent.
    None for a week that ended before the cohort started.
    """
    zone = ZoneInfo(cohort.timezone)
    local = now.astimezone(zone)
    slot = local.date() - timedelta(days=local.weekday())  # this week's Monday
    if local.weekday() == 0 and local.time() < cohort.post_time:
        slot -= timedelta(days=7)  # before today's post time: last Monday's slot still runs
    week = slot - timedelta(days=7)
    if cohort.start_date > week + timedelta(days=6):
        return None
    return week


def render_recap(recap: Recap, png: bytes | None) -> Message:
    """Render the recap as one message with its chart."""

    def lines(items: tuple[RecapLine, ...], unit: str) -> str:
        return "\n".join(f"{n}. {r.name} — {r.value} {unit}" for n, r in enumerate(items, 1))

    fields = [
        MessageField("Top members", lines(recap.top, "points") or "Nobody earned points."),
        MessageField("Longest streaks", lines(recap.streaks, "day(s)") or "No streaks yet."),
        MessageField("Mocks held", str(recap.mocks_held), inline=True),
        MessageField(
            "Drill records", lines(recap.drill_records, "first place(s)") or "None.", inline=True
        ),
    ]
    if recap.hardest:
        fields.append(
            MessageField(
                "Hardest questions",
                "\n".join(
                    f"{h.question_id}: average {h.average:.0%} over {h.answers} answer(s)"
                    for h in recap.hardest
                ),
            )
        )
    end = recap.week_start + timedelta(days=6)
    image = None
    if png is not None:
        image = Image(
            f"recap-{recap.week_start:%Y%m%d}.png",
            png,
            alt_text=f"Top members and the cohort's points per day, {recap.week_start:%d %b}.",
        )
    return Message(
        header=f"Week in review: {recap.week_start:%d %b} – {end:%d %b}",
        text=f"{recap.cohort_name}: here is how last week went.",
        fields=tuple(fields),
        image=image,
        key="recap",
    )


class RecapService:
    """Compose and post the weekly recap of every cohort, once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        standings: StandingsService,
        publishers: Mapping[str, Publisher],
        *,
        holder: str,
        policy: ClaimPolicy,
        charts: bool = True,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._standings = standings
        self._publishers = publishers
        self.holder = holder
        self.policy = policy
        self._charts = charts

    async def compose(self, cohort_id: int, week_start: date) -> Recap:
        """Return a cohort's recap of the week starting on `week_start` (read only)."""
        week_end = week_start + timedelta(days=6)
        async with self._sessions() as session:
            cohort = await cohort_repo.get_cohort(session, cohort_id=cohort_id)
            assert cohort is not None and cohort.id is not None
            start_at = streaks.day_start(week_start, cohort.timezone)
            end_at = streaks.day_start(week_end + timedelta(days=1), cohort.timezone)
            totals = await repo.totals_between(
                session, cohort_id=cohort_id, start=week_start, end=week_end
            )
            standings = await repo.cohort_standings(session, cohort_id=cohort_id)
            records = await repo.reason_counts(
                session, cohort_id=cohort_id, reason="drill_first", since=start_at, until=end_at
            )
            mocks = await repo.reason_counts(
                session, cohort_id=cohort_id, reason="mock_candidate", since=start_at, until=end_at
            )
            grades = await repo.graded_since(
                session, cohort_id=cohort_id, since=start_at, until=end_at
            )
            daily = await repo.daily_points(
                session, cohort_id=cohort_id, start=week_start, end=week_end
            )
            top = rules.rank((m, v, at) for m, v, at in totals)[:TOP]
            streak_rows = rules.rank(
                (
                    s.member_id,
                    streaks.on_day(points_store.stored_streak(s), week_end).current,
                    s.streak_at,
                )
                for s in standings
            )[:TOP]
            record_rows = rules.rank((m, n, None) for m, n in records)[:TOP]
            ids = {r.member_id for r in (*top, *streak_rows, *record_rows)}
            names = await repo.member_names(session, member_ids=sorted(ids))
        by_question: dict[str, list[float]] = {}
        for qid, score in grades:
            by_question.setdefault(qid, []).append(score)
        hardest = sorted(
            (HardQuestion(q, sum(s) / len(s), len(s)) for q, s in by_question.items()),
            key=lambda h: (h.average, -h.answers, h.question_id),
        )[:3]
        per_day = dict(daily)

        def named(rows: list[rules.Ranked]) -> tuple[RecapLine, ...]:
            return tuple(RecapLine(names.get(r.member_id, ("?", None))[0], r.value) for r in rows)

        return Recap(
            cohort_id=cohort_id,
            cohort_name=cohort.name,
            week_start=week_start,
            top=named(top),
            streaks=named(streak_rows),
            mocks_held=sum(n for _, n in mocks),
            drill_records=named(record_rows),
            hardest=tuple(hardest),
            daily_points=tuple(
                (week_start + timedelta(days=n), per_day.get(week_start + timedelta(days=n), 0))
                for n in range(7)
            ),
        )

    async def publish_due(self, now: datetime | None = None) -> RecapReport:
        """Post every recap due now that no process has posted; never twice."""
        now = now or self._clock.now()
        report = RecapReport()
        async with self._sessions() as session:
            cohorts = await cohort_repo.list_cohorts(session, include_paused=False)
        for cohort in cohorts:
            week = due_week(cohort, now)
            publisher = self._publishers.get(cohort.platform)
            if week is None or publisher is None or cohort.id is None:
                continue
            try:
                await self._post(cohort, week, publisher, report)
            except ClaimLost:
                log.warning(
                    "recap of cohort %s for the week of %s: another process took the claim "
                    "over; this one stops here",
                    cohort.id,
                    week,
                )
                report.lost.append(cohort.id)
            except PublishError as exc:
                log.warning("recap of cohort %s not posted: %s", cohort.id, exc)
                report.failed.append(cohort.id)
        return report

    async def _post(
        self, cohort: Cohort, week: date, publisher: Publisher, report: RecapReport
    ) -> None:
        assert cohort.id is not None
        key = recap_key(cohort.id, week)
        async with self._sessions.begin() as session:
            token = await claim_repo.acquire_claim(
                session, key=key, holder=self.holder, now=self._clock.now(), policy=self.policy
            )
        if token is None:
            return  # posted already, or a live process is posting it
        channel = Channel(cohort.platform, cohort.workspace_id, cohort.channel_id)  # type: ignore[arg-type]
        try:
            found = None if token.fresh else await publisher.find_posted(channel, key)
            if found is None:
                recap = await self.compose(cohort.id, week)
                png = None
                if self._charts:
                    from bot.services.charts import recap_png

                    png = await asyncio.to_thread(recap_png, recap)
                fenced_from = self._clock.now()
                async with self._sessions.begin() as session:
                    await claim_repo.fence(
                        session, token=token, now=self._clock.now(), policy=self.policy
                    )
                sent = await publisher.post(channel, render_recap(recap, png), idempotency_key=key)
                # A takeover, or a send that ended outside its fence's window, may have raced
                # another process's: the first copy stands.
                if not token.fresh or not self.policy.fence_still_fresh(
                    fenced_from, self._clock.now()
                ):
                    await keep_first_copy(publisher, channel, key, sent)
        except PublishError as exc:
            async with self._sessions.begin() as session:
                await claim_repo.release_claim(
                    session, token=token, now=self._clock.now(), error=str(exc)
                )
            raise
        async with self._sessions.begin() as session:
            await claim_repo.fence(session, token=token, now=self._clock.now(), policy=self.policy)
            await claim_repo.finish_claim(session, token=token, now=self._clock.now())
        report.posted.append(cohort.id)
