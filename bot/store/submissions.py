"""Repository functions for drill submissions and their boards.

Every function takes the session and never commits: the service's unit of work commits once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from bot.store.models import DrillFile, ImportedDrill, Member, Submission

QUEUED = "queued"
DONE = "done"
FAILED = "failed"


async def add_submission(session: AsyncSession, *, submission: Submission) -> Submission:
    """Add a submission (queued) and give it its id."""
    session.add(submission)
    await session.flush()
    return submission


async def get_submission(session: AsyncSession, *, submission_id: int) -> Submission | None:
    """Return a submission by id."""
    return await session.get(Submission, submission_id)


async def in_flight(session: AsyncSession, *, member_id: int) -> Submission | None:
    """Return the member's submission still waiting for its result, if any."""
    result = await session.execute(
        select(Submission)
        .where(Submission.member_id == member_id, Submission.status == QUEUED)
        .order_by(col(Submission.id))
    )
    return result.scalars().first()


async def count_since(session: AsyncSession, *, member_id: int, since: datetime) -> int:
    """Return how many submissions a member made after a moment."""
    result = await session.execute(
        select(func.count())
        .select_from(Submission)
        .where(Submission.member_id == member_id, col(Submission.created_at) > since)
    )
    return int(result.scalar() or 0)


async def record_dispatch(
    session: AsyncSession,
    *,
    submission_id: int,
    task_id: str,
    error: str | None = None,
    dispatched_by: str | None = None,
) -> bool:
    """Count one hand-over of a queued submission to the runner; keep its task id and owner."""
    result = await session.execute(
        update(Submission)
        .where(col(Submission.id) == submission_id, col(Submission.status) == QUEUED)
        .values(
            task_id=task_id,
            dispatches=col(Submission.dispatches) + 1,
            last_error=error,
            dispatched_by=dispatched_by,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def finish_submission(
    session: AsyncSession,
    *,
    submission_id: int,
    status: str,
    verdict: str | None,
    result: dict[str, Any],
    now: datetime,
    time_s: float | None = None,
    noise_s: float | None = None,
    speedup: float | None = None,
    error: str | None = None,
    notified: bool = False,
) -> bool:
    """Move a queued submission to its final state; False when it was already final.

    The conditional update is the referee between a redelivered job, a reconciler and the
    submitting process: exactly one of them records the result.
    """
    outcome = await session.execute(
        update(Submission)
        .where(col(Submission.id) == submission_id, col(Submission.status) == QUEUED)
        .values(
            status=status,
            verdict=verdict,
            result=result,
            finished_at=now,
            time_s=time_s,
            noise_s=noise_s,
            speedup=speedup,
            last_error=error,
            notified=notified,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(outcome.rowcount)  # type: ignore[attr-defined]


async def mark_notified(session: AsyncSession, *, submission_id: int) -> None:
    """Remember that the member was told the outcome."""
    await session.execute(
        update(Submission)
        .where(col(Submission.id) == submission_id)
        .values(notified=True)
        .execution_options(synchronize_session=False)
    )


async def queued_submissions(
    session: AsyncSession, *, older_than: datetime
) -> Sequence[Submission]:
    """Return submissions still waiting for a result, created before a moment."""
    result = await session.execute(
        select(Submission)
        .where(Submission.status == QUEUED, col(Submission.created_at) <= older_than)
        .order_by(col(Submission.id))
    )
    return result.scalars().all()


async def unnotified_submissions(session: AsyncSession) -> Sequence[Submission]:
    """Return finished submissions whose member was not told the outcome yet."""
    result = await session.execute(
        select(Submission)
        .where(col(Submission.status) != QUEUED, col(Submission.notified).is_(False))
        .order_by(col(Submission.id))
    )
    return result.scalars().all()


async def passing_runs(
    session: AsyncSession,
    *,
    cohort_id: int,
    drill_id: str,
    device_kind: str,
    exclude_submission: int | None = None,
) -> Sequence[tuple[Submission, Member]]:
    """Return every timed passing submission of a drill on a device kind, with its member."""
    query = (
        select(Submission, Member)
        .join(Member, col(Member.id) == col(Submission.member_id))
        .where(
            Submission.cohort_id == cohort_id,
            Submission.drill_id == drill_id,
            Submission.device_kind == device_kind,
            Submission.status == DONE,
            Submission.verdict == "passed",
            col(Submission.time_s).is_not(None),
        )
        .order_by(col(Submission.id))
    )
    if exclude_submission is not None:
        query = query.where(col(Submission.id) != exclude_submission)
    result = await session.execute(query)
    return [(row[0], row[1]) for row in result.all()]


async def has_passed(
    session: AsyncSession, *, member_id: int, drill_id: str, exclude_submission: int
) -> bool:
    """Tell whether a member passed a drill before (on any device)."""
    result = await session.execute(
        select(col(Submission.id)).where(
            Submission.member_id == member_id,
            Submission.drill_id == drill_id,
            Submission.status == DONE,
            Submission.verdict == "passed",
            col(Submission.id) != exclude_submission,
        )
    )
    return result.first() is not None


# --- imported problems ---------------------------------------------------------------------


async def put_drill_file(session: AsyncSession, *, sha256: str, content: str) -> None:
    """Store a problem file under its hash, unless a file with that hash is already stored."""
    if await session.get(DrillFile, sha256) is None:
        session.add(DrillFile(sha256=sha256, content=content, size=len(content.encode())))
        await session.flush()


async def drill_files(session: AsyncSession, *, hashes: Sequence[str]) -> dict[str, str]:
    """Return the stored texts of the given hashes, by hash."""
    if not hashes:
        return {}
    result = await session.execute(select(DrillFile).where(col(DrillFile.sha256).in_(list(hashes))))
    return {row.sha256: row.content for row in result.scalars()}


async def get_imported_drill(session: AsyncSession, *, drill_id: str) -> ImportedDrill | None:
    """Return the imported drill with this id, if any."""
    result = await session.execute(select(ImportedDrill).where(ImportedDrill.drill_id == drill_id))
    return result.scalars().first()


async def imported_drills(session: AsyncSession) -> Sequence[ImportedDrill]:
    """Return every imported drill, by id."""
    result = await session.execute(select(ImportedDrill).order_by(col(ImportedDrill.drill_id)))
    return result.scalars().all()


async def save_imported_drill(session: AsyncSession, *, drill: ImportedDrill) -> ImportedDrill:
    """Add an imported drill, or replace the spec and files of the one with its id."""
    existing = await get_imported_drill(session, drill_id=drill.drill_id)
    if existing is None:
        session.add(drill)
        await session.flush()
        return drill
    existing.title = drill.title
    existing.device_kind = drill.device_kind
    existing.files = dict(drill.files)
    existing.spec = dict(drill.spec)
    existing.imported_by = drill.imported_by
    existing.updated_at = drill.updated_at
    session.add(existing)
    await session.flush()
    return existing
