"""APScheduler wiring. The database decides what is due; jobs only say when to look.

Each cohort gets a cron job at its local post time (DST-correct through its IANA zone), and one
sweep job looks every tick, so a post missed while the process was down, or released after a
platform error, is picked up without a job of its own. Jobs are rebuilt from the database at
start and after every cohort change.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.services.daily import PublishReport
from bot.store import cohorts as cohort_repo

if TYPE_CHECKING:
    from bot.app import StudyBot

log = logging.getLogger(__name__)
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SWEEP_JOB = "sweep"
FOLLOW_UP_JOB = "follow-up"
ANSWERS_JOB = "answers"
SUBMISSIONS_JOB = "submissions"
RECAP_JOB = "recap"


def cohort_trigger(timezone: str, hour: int, minute: int, weekdays: str) -> CronTrigger:
    """Return the cron trigger of a cohort's daily post."""
    days = ",".join(_CRON_DAYS[int(d)] for d in weekdays)
    return CronTrigger(hour=hour, minute=minute, day_of_week=days, timezone=timezone)


class DailyScheduler:
    """Runs `publish_due` when posts are due; survives restarts because it keeps no state."""

    def __init__(self, bot: StudyBot, *, tick_s: float | None = None) -> None:
        self._bot = bot
        self.tick_s = tick_s if tick_s is not None else bot.settings.schedule.scheduler_tick_s
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._lock = asyncio.Lock()
        self.reports: list[PublishReport] = []

    @property
    def job_ids(self) -> list[str]:
        """Return the ids of the scheduled jobs."""
        return sorted(job.id for job in self._scheduler.get_jobs())

    async def start(self) -> None:
        """Build the jobs, start the scheduler and catch up on anything already due."""
        await self.rebuild()
        self._scheduler.add_job(
            self.run_due,
            IntervalTrigger(seconds=self.tick_s),
            id=SWEEP_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.retry_answers,
            IntervalTrigger(seconds=max(self.tick_s, 60.0)),
            id=ANSWERS_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.reconcile_submissions,
            IntervalTrigger(seconds=max(self.tick_s, 60.0)),
            id=SUBMISSIONS_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.add_job(
            self.post_recaps,
            IntervalTrigger(seconds=self.tick_s),
            id=RECAP_JOB,
            replace_existing=True,
            max_instances=1,
            coalesce=True,
        )
        self._scheduler.start()
        self._bot.cohorts.set_change_listener(self.rebuild)
        await self.run_due()
        await self.post_recaps()
        await self.retry_answers()
        await self.reconcile_submissions()

    async def reconcile_submissions(self) -> None:
        """Dispatch again what the runner lost and collect what finished while nobody waited."""
        try:
            report = await self._bot.submissions.reconcile()
        except Exception:
            log.exception("reconciling drill submissions failed; the next tick tries again")
            return
        if report.collected or report.redispatched or report.given_up:
            log.info("drill submissions: %s", report)

    async def post_recaps(self) -> None:
        """Post the weekly recaps due now (Mondays, at each post time); send streak reminders."""
        try:
            report = await self._bot.recaps.publish_due(self._bot.clock.now())
        except Exception:
            log.exception("the weekly recap pass failed; the next tick tries again")
            return
        if report.posted or report.failed:
            log.info("weekly recaps: %s", report)
        try:
            sent = await self._bot.streak_reminders.send_due()
        except Exception:
            log.exception("the streak reminder pass failed; the next tick tries again")
            return
        if sent:
            log.info("streak reminders sent: %d", sent)

    async def retry_answers(self) -> int:
        """Grade answers a crash or a failed grading left pending."""
        try:
            return await self._bot.answers.retry_pending()
        except Exception:
            log.exception("retrying pending answers failed")
            return 0

    async def rebuild(self) -> None:
        """Replace the cohort jobs with what the database says now."""
        async with self._bot.sessions() as session:
            cohorts = await cohort_repo.list_cohorts(session, include_paused=False)
        for job in self._scheduler.get_jobs():
            if job.id.startswith("cohort:"):
                job.remove()
        for cohort in cohorts:
            self._scheduler.add_job(
                self.run_due,
                cohort_trigger(
                    cohort.timezone,
                    cohort.post_time.hour,
                    cohort.post_time.minute,
                    cohort.post_weekdays,
                ),
                kwargs={"cohort_ids": [cohort.id]},
                id=f"cohort:{cohort.id}",
                replace_existing=True,
                misfire_grace_time=None,
                coalesce=True,
            )
        log.info("scheduler rebuilt: %d cohort job(s)", len(cohorts))

    async def run_due(self, cohort_ids: list[int] | None = None) -> PublishReport:
        """Publish what is due now; one pass at a time in this process, never raising.

        When another process holds some of the due posts, one more pass is planned for when
        its heartbeat would count as stale, so a restarted bot takes its predecessor's work
        over within seconds instead of waiting for the next tick.
        """
        try:
            async with self._lock:
                report = await self._bot.daily.publish_due(
                    self._bot.clock.now(), cohort_ids=cohort_ids
                )
        except Exception:
            log.exception("the daily posting pass failed; the next tick tries again")
            return PublishReport()
        if report.posted or report.missed or report.failed or report.lost:
            log.info("daily posts: %s", report)
        if report.busy:
            self._plan_follow_up(self._bot.daily.policy.stale_after + timedelta(seconds=1))
        self.reports.append(report)
        del self.reports[:-50]
        return report

    def _plan_follow_up(self, delay: timedelta) -> None:
        if not self._scheduler.running:
            return
        self._scheduler.add_job(
            self.run_due,
            DateTrigger(run_date=datetime.now(UTC) + delay),
            id=FOLLOW_UP_JOB,
            replace_existing=True,
            misfire_grace_time=None,
        )

    async def stop(self) -> None:
        """Stop the scheduler without waiting for running jobs."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._bot.cohorts.set_change_listener(None)
