"""Two cohorts with members, posts, points, graded answers, a mock and drill runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from bot.services.context import Actor
from bot.store.models import (
    Answer,
    Cohort,
    DayPost,
    Grade,
    Member,
    MockRoom,
    Submission,
)
from bot.store.points import award_points

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
START = date(2026, 12, 1)


@dataclass
class Seeded:
    """Ids of what was seeded."""

    cohort: int
    other_cohort: int
    alice: int  # admin of the cohort
    bob: int
    carol: int
    dave: int  # in the other cohort


def actor(user: str, channel: str = "study", *, admin: bool = False) -> Actor:
    """Return a console actor in a channel."""
    return Actor("console", "local", channel, user, display_name=user, is_workspace_admin=admin)


async def seed(sessions: Any, *, answers_public: bool = False) -> Seeded:
    """Write the two cohorts and their history; return their ids."""
    async with sessions() as session:
        cohort = Cohort(
            name="#study",
            platform="console",
            workspace_id="local",
            channel_id="study",
            timezone="UTC",
            post_time=time(8, 0),
            start_date=START,
            curriculum_length=133,
            answers_public=answers_public,
        )
        other = Cohort(
            name="#elsewhere",
            platform="console",
            workspace_id="local",
            channel_id="elsewhere",
            start_date=START,
        )
        session.add_all([cohort, other])
        await session.flush()
        assert cohort.id is not None and other.id is not None
        people = {
            "alice": Member(
                cohort_id=cohort.id, platform_user_id="alice", display_name="Alice", is_admin=True
            ),
            "bob": Member(cohort_id=cohort.id, platform_user_id="bob", display_name="Bob"),
            "carol": Member(cohort_id=cohort.id, platform_user_id="carol", display_name="Carol"),
            "dave": Member(cohort_id=other.id, platform_user_id="dave", display_name="Dave"),
        }
        session.add_all(people.values())
        await session.flush()
        ids = {k: v.id or 0 for k, v in people.items()}
        for day in range(1, 10):
            status = "missed" if day == 4 else "posted"
            session.add(
                DayPost(
                    cohort_id=cohort.id,
                    day=day,
                    status=status,
                    scheduled_for=NOW - timedelta(days=10 - day),
                )
            )
        # Points: bob leads, carol second, alice third; dave (other cohort) has the most.
        ledger = [
            ("bob", 9, 30),
            ("bob", 8, 20),
            ("carol", 9, 25),
            ("alice", 7, 10),
            ("alice", 2, 5),
            ("dave", 9, 500),
        ]
        for n, (who, day, pts) in enumerate(ledger):
            cid = other.id if who == "dave" else cohort.id
            local = START + timedelta(days=day - 1)
            await award_points(
                session,
                cohort_id=cid,
                member_id=ids[who],
                kind="answer",
                ref=f"seed:{n}",
                points=pts,
                local_day=local,
                at=datetime.combine(local, time(12, 0), tzinfo=UTC),
            )
        graded = [
            ("bob", "E1-003", 0.2, "Backprop is magic."),
            ("carol", "E1-003", 0.4, "It is the chain rule."),
            ("bob", "E2-001", 0.9, "A long and careful answer."),
        ]
        for who, qid, score, text in graded:
            answer = Answer(
                cohort_id=cohort.id,
                member_id=ids[who],
                question_id=qid,
                text=text,
                status="graded",
                created_at=NOW - timedelta(days=1),
            )
            session.add(answer)
            await session.flush()
            session.add(
                Grade(
                    answer_id=answer.id or 0,
                    score=score,
                    grader="offline",
                    points=[
                        {"rubric": "Names the chain rule", "verdict": "missing", "evidence": ""},
                        {
                            "rubric": "Walks the graph backwards",
                            "verdict": "covered",
                            "evidence": text[:20],
                        },
                    ],
                    feedback="Say how gradients flow.",
                )
            )
        session.add(
            MockRoom(
                cohort_id=cohort.id,
                interviewer_id=ids["carol"],
                candidate_id=ids["bob"],
                status="closed",
                finished_at=NOW - timedelta(days=2),
                scorecard={
                    "interviewer": {
                        "ratings": {"requirements": "good", "design": "great"},
                        "red_flags": [],
                        "green_flags": ["clear"],
                        "comment": "Solid round.",
                    }
                },
            )
        )
        for n, (who, t) in enumerate((("bob", 0.0012), ("alice", 0.0010), ("carol", 0.0030))):
            session.add(
                Submission(
                    job_id=f"job-{n}",
                    cohort_id=cohort.id,
                    member_id=ids[who],
                    drill_id="softmax",
                    source="def softmax(x): ...",
                    status="done",
                    verdict="passed",
                    time_s=t,
                    noise_s=0.00001,
                    speedup=1.5,
                    finished_at=NOW - timedelta(hours=n + 1),
                )
            )
        session.add(
            Submission(
                job_id="job-fail",
                cohort_id=cohort.id,
                member_id=ids["bob"],
                drill_id="softmax",
                source="x",
                status="done",
                verdict="failed",
                result={"message": "wrong output for a row of -inf"},
                finished_at=NOW - timedelta(hours=5),
            )
        )
        await session.commit()
        return Seeded(cohort.id, other.id, ids["alice"], ids["bob"], ids["carol"], ids["dave"])
