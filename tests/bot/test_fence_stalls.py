"""Fence checks that always outlast the send window end the pass instead of looping.

A database round trip (or a pause) longer than the send window leaves no check that covers a
send. The work is given back and nothing is sent; the next pass, once checks are quick again,
sends each message exactly once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FakeClock
from bot.messages import Message, SentMessage
from bot.services.answers import TELLER_CLAIM, AnswerService
from bot.services.cohorts import CohortService
from bot.services.context import Actor
from bot.store import claims
from bot.store.models import Answer
from content import load_library

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
ADMIN = Actor("slack", "T1", "C1", "U1", "Ada", is_workspace_admin=True)


class DirectMessages:
    """A platform's private messages, found again by their keys."""

    platform = "slack"

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []  # user, key

    async def send_dm(
        self, user_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> SentMessage:
        self.sent.append((user_id, idempotency_key or ""))
        return SentMessage(f"dm{len(self.sent)}", user_id)

    async def find_dm(self, user_id: str, idempotency_key: str) -> SentMessage | None:
        if (user_id, idempotency_key) in self.sent:
            return SentMessage("found", user_id)
        return None


async def test_a_grade_teller_whose_checks_all_stall_tells_nobody_then_tells_each_once(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(START)
    await CohortService(db.sessions, clock).setup(
        ADMIN, timezone="Europe/Berlin", post_time="08:00", start_date="2026-12-01"
    )
    dms = DirectMessages()
    service = AnswerService(
        db.sessions,
        load_library(),
        clock,
        lambda key: None,
        publishers={"slack": dms},  # type: ignore[dict-item]
    )
    async with db.sessions() as session:
        for user in ("U1", "U2"):
            session.add(
                Answer(
                    cohort_id=1,
                    question_id="E1-001",
                    text="x",
                    status="graded",
                    graded_at=START - timedelta(minutes=5),
                    reply_to={"platform": "slack", "user_id": user},
                )
            )
        await session.commit()
    fence = claims.fence
    window = service.policy.send_window.total_seconds()

    async def stalled(*args: Any, **kwargs: Any) -> None:
        clock.advance(window + 1)  # every check ends outside the window it should open
        await fence(*args, **kwargs)

    monkeypatch.setattr(claims, "fence", stalled)
    assert await service.tell_untold() == 0  # ends: no endless round of checks
    assert dms.sent == []
    async with db.sessions() as session:
        claim = await claims.get_claim(session, key=TELLER_CLAIM)
        assert claim is not None and claim.status == "released"  # the next pass goes at once
        untold = [a for a in (await session.execute(Answer.__table__.select())).all()]
        assert all(row.told_at is None for row in untold)
    monkeypatch.setattr(claims, "fence", fence)
    assert await service.tell_untold() == 2
    assert sorted(user for user, _ in dms.sent) == ["U1", "U2"]
    assert await service.tell_untold() == 0 and len(dms.sent) == 2
