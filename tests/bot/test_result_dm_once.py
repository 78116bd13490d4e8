"""A drill result's DM is sent exactly once, even when the bot dies between sending and recording.

The reconciler tells members results no request was waiting for. A process killed after Slack
accepted the DM but before `notified` was committed must not make its successor send it again:
each part of the DM carries a key, and the successor finds it in the member's conversation.
The Slack cases run the real SlackPublisher against the local mock Slack Web API.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import select

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy
from bot.messages import Message, SentMessage
from bot.platforms.console import ConsolePublisher
from bot.platforms.slack_app import SlackPublisher
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.services.submissions import SubmissionService, result_dm_key
from bot.store.models import Submission
from gpu_runner.protocol import RunResult
from tests.bot.test_submissions_service import KV, FakeRunner
from tests.support.slack_api_server import MockSlackApi

ADMIN = Actor("slack", "T0TEAM001", "C0COHORT1", "U0ADA", "Ada", is_workspace_admin=True)
BOB = Actor("slack", "T0TEAM001", "C0COHORT1", "U0BOB", "Bob")
CON_ADMIN = Actor("console", "local", "study", "ada", "Ada", is_workspace_admin=True)
CON_BOB = Actor("console", "local", "study", "bob", "Bob")
POLICY = ClaimPolicy(lease_s=60, heartbeat_interval_s=5)


class Killed(BaseException):
    """The process dies here: nothing after this line of the bot runs."""


class DiesAfterSending:
    """A face that delivers the first `survive` DMs, then dies right after the next is sent."""

    def __init__(self, inner: Any, *, survive: int = 0) -> None:
        self._inner = inner
        self._survive = survive
        self.platform = inner.platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send_dm(self, user_id: str, message: Message, **kw: Any) -> SentMessage:
        sent = await self._inner.send_dm(user_id, message, **kw)
        if self._survive == 0:
            raise Killed
        self._survive -= 1
        return sent


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[MockSlackApi]:
    """A running mock Slack Web API."""
    async with MockSlackApi() as server:
        yield server


def slack_publisher(api: MockSlackApi) -> SlackPublisher:
    """A fresh publisher: a new process knows only what Slack's history says."""
    client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
    return SlackPublisher(client, channel_interval_s=0)


def service(db: Any, clock: FakeClock, runner: FakeRunner, face: Any, holder: str) -> Any:
    """A bot process's submission service with one face."""
    return SubmissionService(
        db.sessions,
        clock,
        runner,  # type: ignore[arg-type]
        publishers={face.platform: face},
        holder=holder,
        policy=POLICY,
    )


async def finished_unwatched(
    db: Any, clock: FakeClock, admin: Actor, member: Actor, output: str = ""
) -> tuple[FakeRunner, Submission]:
    """A submission whose result came while no request waited: the reconciler tells it."""
    cohorts = CohortService(db.sessions, clock, days_total=133)
    await cohorts.setup(admin, start_date="2026-12-01")
    await cohorts.join(member)
    runner = FakeRunner()
    submitter = service(db, clock, runner, ConsolePublisher(io.StringIO()), "web")
    submission = await submitter.submit(member, "kv_cache_bytes", KV)
    job = runner.jobs[submission.job_id]
    runner.finish(
        submission.job_id,
        RunResult(
            job_id=job.job_id,
            drill=job.drill,
            verdict="passed",
            message="All 9 cases passed.",
            cases_passed=9,
            cases_total=9,
            output=output,
            sandbox="bwrap",
        ),
    )
    clock.advance(60)
    return runner, submission


def result_dms(api: MockSlackApi, user: str) -> list[str]:
    """Return the keys of the result DMs the member's conversation holds, in order."""
    return [
        (m.get("metadata") or {}).get("event_payload", {}).get("key", "unkeyed")
        for m in api.messages.get(f"D{user}", [])
    ]


async def notified(db: Any, submission_id: int) -> bool:
    async with db.sessions() as session:
        row = (
            await session.execute(select(Submission).where(Submission.id == submission_id))
        ).scalar_one()
        return bool(row.notified)


async def test_a_result_dm_sent_but_not_recorded_is_found_on_slack_not_sent_again(
    db: Any, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    runner, submission = await finished_unwatched(db, clock, ADMIN, BOB)
    assert submission.id is not None
    first = slack_publisher(slack)
    dying = service(db, clock, runner, DiesAfterSending(first), "proc-a")
    try:
        await dying.reconcile()
    except Killed:
        pass
    finally:
        await first.aclose()
    key = result_dm_key(submission.id)
    assert result_dms(slack, "U0BOB") == [key]  # Slack has it; the database does not know
    assert not await notified(db, submission.id)

    clock.advance(POLICY.lease_s + 1)  # the dead process's claim runs out
    fresh = slack_publisher(slack)
    try:
        report = await service(db, clock, runner, fresh, "proc-b").reconcile()
    finally:
        await fresh.aclose()
    assert report.claimed and report.notified == 1
    assert result_dms(slack, "U0BOB") == [key]  # found, not sent again
    assert await notified(db, submission.id)
    again = slack_publisher(slack)
    try:
        assert (await service(db, clock, runner, again, "proc-c").reconcile()).notified == 0
    finally:
        await again.aclose()
    assert result_dms(slack, "U0BOB") == [key]


async def test_a_result_dm_cut_between_its_parts_sends_only_the_missing_part(
    db: Any, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    runner, submission = await finished_unwatched(
        db, clock, ADMIN, BOB, output="kv bytes: 131072\n"
    )
    assert submission.id is not None
    first = slack_publisher(slack)
    try:
        await service(db, clock, runner, DiesAfterSending(first), "proc-a").reconcile()
    except Killed:
        pass
    finally:
        await first.aclose()
    assert result_dms(slack, "U0BOB") == [result_dm_key(submission.id, 0)]
    clock.advance(POLICY.lease_s + 1)
    fresh = slack_publisher(slack)
    try:
        report = await service(db, clock, runner, fresh, "proc-b").reconcile()
    finally:
        await fresh.aclose()
    assert report.notified == 1
    assert result_dms(slack, "U0BOB") == [
        result_dm_key(submission.id, 0),
        result_dm_key(submission.id, 1),
    ]


async def test_on_the_console_a_retry_after_the_record_failed_shows_the_dm_once(
    db: Any, tmp_path: Any
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    runner, submission = await finished_unwatched(db, clock, CON_ADMIN, CON_BOB)
    out = (tmp_path / "console.txt").open("w")
    console = ConsolePublisher(out)
    try:
        await service(db, clock, runner, DiesAfterSending(console), "proc-a").reconcile()
    except Killed:
        pass
    clock.advance(POLICY.lease_s + 1)
    report = await service(db, clock, runner, console, "proc-a").reconcile()
    out.close()
    assert report.notified == 1
    assert (tmp_path / "console.txt").read_text().count("[DM to bob]") == 1
    assert await notified(db, submission.id or 0)


async def test_a_slack_install_that_cannot_read_dms_still_tells_the_result(
    db: Any, slack: MockSlackApi
) -> None:
    # An install made before the app asked for im:history: looking is refused for good, so
    # the DM goes out unlooked rather than never.
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    runner, submission = await finished_unwatched(db, clock, ADMIN, BOB)
    slack.fail(method="conversations.history", error="missing_scope", times=5)
    publisher = slack_publisher(slack)
    try:
        report = await service(db, clock, runner, publisher, "proc-a").reconcile()
    finally:
        await publisher.aclose()
    assert report.notified == 1
    assert result_dms(slack, "U0BOB") == [result_dm_key(submission.id or 0)]
    assert await notified(db, submission.id or 0)


async def test_a_slack_that_cannot_answer_a_lookup_now_is_asked_again_later(
    db: Any, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    runner, submission = await finished_unwatched(db, clock, ADMIN, BOB)
    slack.fail(method="conversations.history", status=500, times=1)
    publisher = slack_publisher(slack)
    try:
        first = await service(db, clock, runner, publisher, "proc-a").reconcile()
        assert first.notified == 0 and result_dms(slack, "U0BOB") == []
        second = await service(db, clock, runner, publisher, "proc-a").reconcile()
    finally:
        await publisher.aclose()
    assert second.notified == 1
    assert result_dms(slack, "U0BOB") == [result_dm_key(submission.id or 0)]
