"""A grade is told to its member exactly once: in the command's reply, or else by one keyed DM.

A grade stored by a retry (or by a command whose process died before it replied) is told by
the teller pass. A process killed between the grade's commit and the DM must not lose it; one
killed after Slack accepted the DM but before it was marked told must not make its successor
send it again; a grade the command's own reply showed is never sent a second time. The Slack
cases run the real SlackPublisher against the local mock Slack Web API.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from slack_sdk.web.async_client import AsyncWebClient

from bot.clock import FakeClock
from bot.domain.claims import ClaimPolicy
from bot.messages import Message, SentMessage
from bot.platforms.slack_app import SlackPublisher
from bot.services.answers import AnswerService
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.store import answers as answer_repo
from bot.store.models import Answer
from content import Library, load_library
from tests.bot.test_answers_service import STRONG, FixedGrader, Graders
from tests.support.slack_api_server import MockSlackApi

ADMIN = Actor("slack", "T0TEAM001", "C0COHORT1", "U0ADA", "Ada", is_workspace_admin=True)
BOB = Actor("slack", "T0TEAM001", "C0COHORT1", "U0BOB", "Bob")
# Past the dead process's teller lease and past the grace a command has to reply with its grade.
RESTART_S = ClaimPolicy().lease_s + 180.0


class Killed(BaseException):
    """The process dies here: nothing after this line of the bot runs."""


class DiesAfterSending:
    """A face that dies right after Slack accepted its first DM."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.platform = inner.platform

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def send_dm(self, user_id: str, message: Message, **kw: Any) -> SentMessage:
        await self._inner.send_dm(user_id, message, **kw)
        raise Killed


class DiesBeforeSending(DiesAfterSending):
    """A face whose process dies as it is about to send its first DM (after the grade's commit)."""

    async def send_dm(self, user_id: str, message: Message, **kw: Any) -> SentMessage:
        raise Killed


@pytest.fixture(scope="module")
def library() -> Library:
    """The curriculum, loaded once."""
    return load_library()


@pytest_asyncio.fixture
async def slack() -> AsyncIterator[MockSlackApi]:
    """A running mock Slack Web API."""
    async with MockSlackApi() as server:
        yield server


def slack_publisher(api: MockSlackApi) -> SlackPublisher:
    """A fresh publisher: a new process knows only what Slack's history says."""
    client = AsyncWebClient(token=api.token, base_url=api.base_url, retry_handlers=[])
    return SlackPublisher(client, channel_interval_s=0)


def service(db: Any, library: Library, clock: FakeClock, face: Any) -> AnswerService:
    """One bot process's answer service with one face (each its own claim holder)."""
    return AnswerService(
        db.sessions, library, clock, Graders(FixedGrader(0.8)), publishers={face.platform: face}
    )


async def pending_answer(db: Any, library: Library, clock: FakeClock, face: Any) -> int:
    """Bob's answer, stored and left pending (its grading failed or its process died)."""
    cohorts = CohortService(db.sessions, clock, days_total=133)
    await cohorts.setup(ADMIN, start_date="2026-12-01")
    await cohorts.join(BOB)
    answer = await service(db, library, clock, face).submit(BOB, "E1-005", STRONG)
    assert answer.id is not None
    clock.advance(minutes=2)
    return answer.id


def grade_dms(api: MockSlackApi, user: str) -> list[str]:
    """Return the keys of the DMs the member's conversation holds, in order."""
    return [
        (m.get("metadata") or {}).get("event_payload", {}).get("key", "unkeyed")
        for m in api.messages.get(f"D{user}", [])
    ]


async def stored(db: Any, answer_id: int) -> Answer:
    async with db.sessions() as session:
        answer = await answer_repo.get_answer(session, answer_id=answer_id)
        assert answer is not None
        return answer


async def restart(db: Any, library: Library, clock: FakeClock, api: MockSlackApi) -> int:
    """A new process runs the scheduled pass; return how many answers it graded."""
    clock.advance(RESTART_S)
    fresh = slack_publisher(api)
    try:
        return await service(db, library, clock, fresh).retry_pending()
    finally:
        await fresh.aclose()


async def test_a_grade_committed_by_a_process_killed_before_its_dm_is_sent_once_on_restart(
    db: Any, library: Library, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    first = slack_publisher(slack)
    answer_id = await pending_answer(db, library, clock, first)
    try:
        with pytest.raises(Killed):
            await service(db, library, clock, DiesBeforeSending(first)).retry_pending()
    finally:
        await first.aclose()
    assert (await stored(db, answer_id)).status == "graded"
    assert grade_dms(slack, "U0BOB") == []  # graded, committed, and nobody told

    assert await restart(db, library, clock, slack) == 0  # nothing left to grade
    assert grade_dms(slack, "U0BOB") == [f"grade:{answer_id}"]
    assert (await stored(db, answer_id)).told_at is not None
    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == [f"grade:{answer_id}"]


async def test_a_command_whose_process_died_before_replying_has_its_grade_dmed_once(
    db: Any, library: Library, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    publisher = slack_publisher(slack)
    try:
        answer_id = await pending_answer(db, library, clock, publisher)
        # The slow part of /answer stored the grade; the process died before its reply left.
        await service(db, library, clock, publisher).grade(answer_id)
    finally:
        await publisher.aclose()
    assert grade_dms(slack, "U0BOB") == []
    await restart(db, library, clock, slack)
    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == [f"grade:{answer_id}"]
    (dm,) = slack.messages["DU0BOB"]
    assert "E1-005: 80%" in str(dm)  # the grade as the reply would have shown it


async def test_a_grade_dm_sent_but_not_marked_is_found_on_slack_not_sent_again(
    db: Any, library: Library, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    first = slack_publisher(slack)
    answer_id = await pending_answer(db, library, clock, first)
    try:
        with pytest.raises(Killed):
            await service(db, library, clock, DiesAfterSending(first)).retry_pending()
    finally:
        await first.aclose()
    key = f"grade:{answer_id}"
    assert grade_dms(slack, "U0BOB") == [key]  # Slack has it; the database does not know

    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == [key]  # found, not sent again
    assert (await stored(db, answer_id)).told_at is not None
    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == [key]


async def test_a_grade_shown_in_the_commands_reply_is_never_dmed(
    db: Any, library: Library, slack: MockSlackApi
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    publisher = slack_publisher(slack)
    try:
        answer_id = await pending_answer(db, library, clock, publisher)
        reply = await service(db, library, clock, publisher)._grade_reply(answer_id)
    finally:
        await publisher.aclose()
    assert (reply.messages[0].header or "").startswith("E1-005: 80%")
    await restart(db, library, clock, slack)
    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == []
    assert (await stored(db, answer_id)).told_at is not None


async def test_a_command_paused_past_the_grace_leaves_the_grade_to_the_dm_and_says_so(
    db: Any, library: Library, slack: MockSlackApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC))
    publisher = slack_publisher(slack)
    answer_id = await pending_answer(db, library, clock, publisher)
    real_mark = answer_repo.mark_told
    paused, resume = asyncio.Event(), asyncio.Event()
    first_call = True

    async def mark_after_a_pause(session: Any, **kw: Any) -> bool:
        # The command's process stops between the grade's commit and its reply.
        nonlocal first_call
        if first_call:
            first_call = False
            paused.set()
            await resume.wait()
        return await real_mark(session, **kw)

    monkeypatch.setattr(answer_repo, "mark_told", mark_after_a_pause)
    try:
        command = asyncio.create_task(
            service(db, library, clock, publisher)._grade_reply(answer_id)
        )
        await paused.wait()
        await restart(db, library, clock, slack)  # another process tells the grade meanwhile
        assert grade_dms(slack, "U0BOB") == [f"grade:{answer_id}"]
        resume.set()
        reply = await command
    finally:
        await publisher.aclose()
    # The member learns the grade once: the late reply points at the DM instead of repeating it.
    assert "already graded" in (reply.messages[0].text or "")
    assert not reply.messages[0].fields
    await restart(db, library, clock, slack)
    assert grade_dms(slack, "U0BOB") == [f"grade:{answer_id}"]
