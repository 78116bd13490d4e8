"""Drill submissions: validate, store queued, dispatch with nothing open, record once.

The use case, step by step:

1. the file is checked before anything is queued (size, UTF-8, syntax, the drill's function or
   class defined, a known drill, nothing else in flight, under the hourly cap);
2. the submission is committed `queued`, then handed to the runner with no transaction open,
   then its task id is stored;
3. the result is written by submission id, under a conditional update: a redelivered job, the
   reconciler and the waiting request may all see it, exactly one records it, and its points
   (drill passed, personal best, first place; each with its own reference) go in the same commit;
4. then the member is answered, and a new first place is announced in the cohort's channel.

A reconciler, run by one bot process at a time under a fenced claim, dispatches again what the
runner lost (its broker flushed, its worker gone), collects what finished while the bot was down,
and gives up after a number of dispatches, telling the member.
"""

from __future__ import annotations

import ast
import difflib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain import drill_boards as boards
from bot.domain.claims import ClaimLost, ClaimPolicy, ClaimToken, FenceTooSlow
from bot.domain.scoring import drill_awards
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound, StudyBotError
from bot.messages import (
    Channel,
    Message,
    MessageField,
    Publisher,
    PublishError,
    Reply,
    SentMessage,
)
from bot.services.context import Actor
from bot.store import answers as points_repo
from bot.store import claims as claim_repo
from bot.store import cohorts as cohort_repo
from bot.store import submissions as repo
from bot.store.models import Cohort, Member, Submission
from bot.store.models import ImportedDrill as ImportedDrillRow

if TYPE_CHECKING:
    from gpu_runner.client import JobStatus, RunnerClient
    from gpu_runner.drills import Drill
    from gpu_runner.protocol import Refusal, RunResult

log = logging.getLogger(__name__)

MAX_SOURCE_BYTES = 64 * 1024
RECONCILER_CLAIM = "submissions:reconciler"
_DEVICE_KIND = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ICON = {"passed": "✅", "wrong": "❌", "error": "💥", "timeout": "⏱", "rejected": "🚫"}

StatusListener = Callable[["SubmissionProgress"], Awaitable[None] | None]


@dataclass(frozen=True)
class SubmissionProgress:
    """Where a waiting submission stands: queued (with jobs ahead) or running (with progress)."""

    submission_id: int
    state: str
    position: int | None = None
    progress: str = ""

    def describe(self) -> str:
        """Return one line for the member while they wait."""
        if self.state == "queued":
            if self.position is None:
                return f"Submission #{self.submission_id} is queued."
            ahead = "no job" if self.position == 0 else f"{self.position} job(s)"
            return f"Submission #{self.submission_id} is queued: {ahead} ahead of yours."
        if self.state == "running":
            detail = f" ({self.progress})" if self.progress else ""
            return f"Submission #{self.submission_id} is being judged{detail}."
        return f"Submission #{self.submission_id} is waiting for a runner."


@dataclass(frozen=True)
class SubmissionOutcome:
    """A judged (or given-up) submission, as stored, with its place on the board."""

    submission: Submission
    recorded_now: bool
    rank: boards.BoardRow | None = None
    board_size: int = 0
    personal_best: bool = False
    first_place: bool = False
    points: int = 0
    awards: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True)
class Board:
    """A drill's leaderboard on one device kind."""

    drill_id: str
    device_kind: str
    rows: tuple[boards.BoardRow, ...]


@dataclass
class ReconcileReport:
    """What one reconciler pass did."""

    claimed: bool = False
    collected: int = 0
    redispatched: int = 0
    given_up: int = 0
    notified: int = 0
    left_to_owner: int = 0


def load_drill(drill_id: str) -> Drill:
    """Return the drill, or say which drills exist."""
    from gpu_runner.drills import DRILLS

    wanted = drill_id.strip().lower()
    drill = DRILLS.get(wanted)
    if drill is None:
        close = difflib.get_close_matches(wanted, list(DRILLS), n=1)
        hint = f"Did you mean {close[0]}? " if close else ""
        raise NotFound(
            f"There is no drill called {drill_id.strip()!r}.",
            hint=f"{hint}See /drill list for every drill.",
        )
    return drill


def check_source(drill: Drill, data: bytes | str) -> str:
    """Return the file's text, or raise InvalidInput naming what to fix."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_SOURCE_BYTES:
        raise InvalidInput(
            f"Your file is {len(raw) / 1024:.0f} KB; a submission may be at most "
            f"{MAX_SOURCE_BYTES // 1024} KB.",
            hint="Submit only the code of the drill, without data or output pasted in.",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"Your file is not UTF-8 text (byte {exc.start} cannot be read).",
            hint="Save it as UTF-8 and submit it again.",
        ) from None
    if not text.strip():
        raise InvalidInput(
            "Your file is empty.", hint=f"Start from /drill template {drill.id} and fill it in."
        )
    try:
        tree = ast.parse(text)
    except SyntaxError as exc:
        where = f"line {exc.lineno}" if exc.lineno else "your file"
        raise InvalidInput(
            f"Your file has a syntax error on {where}: {exc.msg}.",
            hint="Fix it and submit again (run it with python first).",
        ) from None
    if not _defines(tree, drill.entry):
        what = "class" if drill.kind == "class" else "function"
        raise InvalidInput(
            f"Your file defines no {what} named {drill.entry!r}, which the drill "
            f"{drill.id} judges.",
            hint=f"See /drill template {drill.id} for the name and signature.",
        )
    return text


def _defines(tree: ast.Module, name: str) -> bool:
    """Tell whether a module defines `name` at top level (def, class or assignment)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
        elif isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                return True
    return False


def check_device_kind(kind: str | None) -> str:
    """Return a device kind (cpu by default), or explain the format."""
    value = (kind or "cpu").strip().lower()
    if not _DEVICE_KIND.match(value) or len(value) > 64:
        raise InvalidInput(
            f"{kind!r} is not a device kind.",
            hint="Use cpu, cuda, or a named GPU such as cuda-h100.",
        )
    return value


def result_dm_key(submission_id: int, part: int = 0) -> str:
    """Return the idempotency key of one part of a submission's result DM."""
    return f"drill:result:{submission_id}:{part}"


def job_id_for(submission_id: int) -> str:
    """Return the runner job id of a submission (stable: a dispatch again is the same job)."""
    return f"submission-{submission_id}"


def _timing_of(result: RunResult) -> tuple[float | None, float | None, float | None]:
    timing = result.timing
    if timing is None:
        return None, None, None
    return timing.median, timing.stderr, timing.speedup


def _run_of(submission: Submission, member: Member) -> boards.BoardRun:
    assert submission.id is not None and member.id is not None and submission.time_s is not None
    return boards.BoardRun(
        submission_id=submission.id,
        member_id=member.id,
        member=member.display_name or member.platform_user_id,
        time_s=submission.time_s,
        noise_s=submission.noise_s or 0.0,
        speedup=submission.speedup,
    )


class SubmissionService:
    """Submit drill files, follow them through the runner, record and rank their results."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        runner: RunnerClient | Callable[[], RunnerClient],
        *,
        publishers: Mapping[str, Publisher] | None = None,
        hourly_cap: int = 20,
        max_dispatches: int = 3,
        timing: bool = True,
        holder: str = "",
        policy: ClaimPolicy | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        # A factory defers building the runner (and importing the judge) to the first submission.
        self._runner: RunnerClient | None = None if callable(runner) else runner
        self._make_runner = runner if callable(runner) else None
        self._publishers: Mapping[str, Publisher] = publishers if publishers is not None else {}
        self.hourly_cap = hourly_cap
        self.max_dispatches = max_dispatches
        self._timing = timing
        self.holder = holder or "submissions"
        self.policy = policy or ClaimPolicy()
        # Submissions a request in this process is waiting on: it answers them itself.
        self._waiting: set[int] = set()

    @property
    def runner(self) -> RunnerClient:
        """Return the runner client, built on first use."""
        if self._runner is None:
            assert self._make_runner is not None
            self._runner = self._make_runner()
        return self._runner

    # --- submit ---------------------------------------------------------------------------

    async def submit(
        self, actor: Actor, drill_id: str, data: bytes | str, *, device_kind: str | None = None
    ) -> Submission:
        """Check the file, store the submission queued, hand it to the runner; return it."""
        drill = await self.find_drill(drill_id)
        if device_kind is None:
            # An imported problem runs on the device it names unless asked otherwise.
            device_kind = getattr(drill, "device_kind", None)
        kind = check_device_kind(device_kind)
        source = check_source(drill, data)
        now = self._clock.now()
        async with self._sessions() as session:
            cohort, member = await self._member(session, actor)
            assert member.id is not None and cohort.id is not None
            # Serialises one member's submissions: two at once cannot both pass the checks.
            await points_repo.lock_member(session, member_id=member.id)
            busy = await repo.in_flight(session, member_id=member.id)
            if busy is not None:
                raise Conflict(
                    f"Your submission #{busy.id} for {busy.drill_id} is still being judged.",
                    hint="Wait for its result, then submit again.",
                )
            made = await repo.count_since(
                session, member_id=member.id, since=now - timedelta(hours=1)
            )
            if made >= self.hourly_cap:
                raise Conflict(
                    f"You have made {made} submissions in the last hour; the limit is "
                    f"{self.hourly_cap}.",
                    hint="Try again later in the hour.",
                )
            submission = Submission(
                job_id="",
                cohort_id=cohort.id,
                member_id=member.id,
                drill_id=drill.id,
                source=source,
                status=repo.QUEUED,
                device_kind=kind,
                created_at=now,
                reply_to={
                    "platform": actor.platform,
                    "user_id": actor.user_id,
                    "channel_id": actor.channel_id,
                },
            )
            # The job id is the row's; a unique placeholder holds the column until the id exists.
            submission.job_id = f"pending-{uuid.uuid4().hex}"
            await repo.add_submission(session, submission=submission)
            assert submission.id is not None
            submission.job_id = job_id_for(submission.id)
            await session.commit()
        await self._dispatch(submission)
        return submission

    async def rejudge(
        self,
        submission_id: int,
        *,
        cohort_id: int,
        audit: Callable[[AsyncSession], Awaitable[object]] | None = None,
    ) -> Submission:
        """Judge a stored submission's code again, as a new submission of the same member.

        The original keeps its result; the new one is judged, recorded and awarded like any
        other (points are idempotent per submission, and a pass or a best counts only once).
        `audit` writes its record in the transaction that queues the new submission, after
        every check: a refused re-judge leaves no record, an accepted one always has one.
        """
        now = self._clock.now()
        async with self._sessions() as session:
            original = await session.get(Submission, submission_id)
            if original is None or original.cohort_id != cohort_id:
                raise NotFound(f"There is no submission #{submission_id} in this cohort.")
            if original.status == repo.QUEUED:
                raise Conflict(
                    f"Submission #{submission_id} is still being judged.",
                    hint="Wait for its result, then judge it again.",
                )
            if original.member_id is not None:
                await points_repo.lock_member(session, member_id=original.member_id)
                busy = await repo.in_flight(session, member_id=original.member_id)
                if busy is not None:
                    raise Conflict(
                        f"Submission #{busy.id} of the same member is still being judged.",
                        hint="Wait for its result, then judge this one again.",
                    )
            again = Submission(
                job_id=f"pending-{uuid.uuid4().hex}",
                cohort_id=original.cohort_id,
                member_id=original.member_id,
                drill_id=original.drill_id,
                source=original.source,
                status=repo.QUEUED,
                device_kind=original.device_kind,
                created_at=now,
                reply_to=dict(original.reply_to or {}),
            )
            await repo.add_submission(session, submission=again)
            assert again.id is not None
            again.job_id = job_id_for(again.id)
            if audit is not None:
                await audit(session)
            await session.commit()
        await self._dispatch(again)
        return again

    async def _member(self, session: AsyncSession, actor: Actor) -> tuple[Cohort, Member]:
        cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
        if cohort is None or cohort.id is None:
            raise NotAllowed(
                "There is no cohort in this channel, so a drill cannot be submitted here.",
                hint="Submit from your cohort's channel.",
            )
        member = await cohort_repo.get_member(
            session, cohort_id=cohort.id, platform_user_id=actor.user_id
        )
        if member is None or not member.active:
            raise NotAllowed(
                "You are not a member of this cohort, so you cannot submit drills here.",
                hint="Join with /cohort join.",
            )
        return cohort, member

    def _job(self, submission: Submission, problem: Any = None) -> Any:
        from gpu_runner.protocol import RunJob

        assert submission.id is not None
        kind = submission.device_kind
        return RunJob(
            job_id=job_id_for(submission.id),
            drill=submission.drill_id,
            source=submission.source,
            device="cuda" if kind.startswith("cuda") else "cpu",
            device_kind=kind,
            timing=self._timing,
            submission_id=str(submission.id),
            problem=problem,
        )

    async def _dispatch(self, submission: Submission) -> str | None:
        """Hand the job to the runner (no transaction open), then store its task id.

        A runner that cannot be reached leaves the submission queued: the reconciler
        dispatches it again.
        """
        from gpu_runner.client import RunnerError

        assert submission.id is not None
        error = None
        problem = None
        if submission.drill_id not in _builtin_ids():
            # An imported problem travels inside the job: workers have no database.
            async with self._sessions() as session:
                problem = await self._problem(session, submission.drill_id)
        try:
            task_id = await self.runner.dispatch(self._job(submission, problem))
        except RunnerError as exc:
            log.warning("dispatching submission %s failed: %s", submission.id, exc)
            task_id, error = job_id_for(submission.id), str(exc)
        async with self._sessions() as session:
            await repo.record_dispatch(
                session,
                submission_id=submission.id,
                task_id=task_id,
                error=error,
                dispatched_by=self.holder,
            )
            await session.commit()
        submission.task_id = task_id
        submission.dispatches += 1
        submission.dispatched_by = self.holder
        return None if error else task_id

    # --- imported problems ----------------------------------------------------------------

    async def find_drill(self, drill_id: str) -> Drill:
        """Return a built-in drill, or an imported one from the database; else say what exists."""
        wanted = drill_id.strip().lower()
        if wanted in _builtin_ids():
            return load_drill(wanted)
        async with self._sessions() as session:
            problem = await self._problem(session, wanted)
        if problem is None:
            return load_drill(wanted)  # raises NotFound with the closest built-in id
        from gpu_runner.imported import ImportedDrill

        return ImportedDrill(problem)

    async def _problem(self, session: AsyncSession, drill_id: str) -> Any:
        """Return the ImportedProblem stored as `drill_id`, with its files, or None."""
        from gpu_runner.protocol import ImportedProblem

        row = await repo.get_imported_drill(session, drill_id=drill_id)
        if row is None:
            return None
        spec = row.spec
        hashes = [*row.files.values(), spec["template"]]
        texts = await repo.drill_files(session, hashes=hashes)
        return ImportedProblem(
            name=row.drill_id,
            title=row.title,
            description=spec.get("description", ""),
            files={name: texts[digest] for name, digest in row.files.items()},
            template=texts[spec["template"]],
            tests=tuple(spec["tests"]),
            benchmarks=tuple(spec.get("benchmarks", ())),
            device=row.device_kind,
        )

    async def drill_list(self) -> list[tuple[str, str]]:
        """Return (id, title) of every drill: the built-in ones, then the imported ones."""
        async with self._sessions() as session:
            imported = await repo.imported_drills(session)
        return [*drill_summaries(), *((d.drill_id, f"{d.title} (imported)") for d in imported)]

    async def import_problem(self, actor: Actor, path: str) -> dict[str, Any]:
        """Import a GPU MODE style problem folder as a drill (admins only); return its summary."""
        import hashlib

        from gpu_runner.imported import ProblemFormatError, read_problem_folder

        await self._require_admin(actor)
        try:
            problem = read_problem_folder(path)
        except ProblemFormatError as exc:
            raise InvalidInput(
                f"That folder is not a problem this bot can import: {exc}.",
                hint="A problem folder has task.yml, reference.py and a submission template.",
            ) from None
        if problem.name in _builtin_ids():
            raise Conflict(f"{problem.name} is the id of a built-in drill.")

        def digest(text: str) -> str:
            return hashlib.sha256(text.encode("utf-8")).hexdigest()

        now = self._clock.now()
        async with self._sessions() as session:
            for text in [*problem.files.values(), problem.template]:
                await repo.put_drill_file(session, sha256=digest(text), content=text)
            row = ImportedDrillRow(
                drill_id=problem.name,
                title=problem.title,
                device_kind=problem.device,
                files={name: digest(text) for name, text in problem.files.items()},
                spec={
                    "description": problem.description,
                    "template": digest(problem.template),
                    "tests": [dict(t) for t in problem.tests],
                    "benchmarks": [dict(b) for b in problem.benchmarks],
                },
                imported_by=actor.user_id,
                created_at=now,
                updated_at=now,
            )
            await repo.save_imported_drill(session, drill=row)
            await session.commit()
        return {
            "id": problem.name,
            "title": problem.title,
            "device": problem.device,
            "files": sorted(problem.files),
            "tests": len(problem.tests),
            "benchmarks": len(problem.benchmarks),
        }

    async def _require_admin(self, actor: Actor) -> None:
        if actor.is_workspace_admin:
            return
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            member = (
                await cohort_repo.get_member(
                    session, cohort_id=cohort.id, platform_user_id=actor.user_id
                )
                if cohort is not None and cohort.id is not None
                else None
            )
        if member is None or not member.is_admin or not member.active:
            raise NotAllowed("Only admins can import drills.")

    # --- wait and record ------------------------------------------------------------------

    async def wait(
        self,
        submission_id: int,
        *,
        on_status: StatusListener | None = None,
        timeout_s: float | None = None,
    ) -> SubmissionOutcome:
        """Wait for the runner's answer, record it once, and return the stored outcome."""
        from gpu_runner.client import JobRefusedError, RunnerError

        async def relay(status: JobStatus) -> None:
            if on_status is None or status.state == "done":
                return
            outcome = on_status(
                SubmissionProgress(submission_id, status.state, status.position, status.progress)
            )
            if outcome is not None:
                await outcome

        self._waiting.add(submission_id)
        try:
            answer: RunResult | Refusal
            try:
                answer = await self.runner.wait(
                    job_id_for(submission_id), timeout_s=timeout_s, on_status=relay
                )
            except JobRefusedError as exc:
                answer = exc.refusal
            except RunnerError as exc:
                # Lost by the runner: the reconciler dispatches it again and tells the member.
                log.warning("waiting for submission %s: %s", submission_id, exc)
                raise StudyBotError(
                    f"Submission #{submission_id} is saved, but the runner lost track of it; "
                    "it will be judged again and you will get the result."
                ) from None
            # Recorded as told in the same commit: no reconciler elsewhere tells the member again.
            outcome = await self.record(submission_id, answer, notified=True)
            if not outcome.recorded_now:
                await self._mark_notified(submission_id)
            return outcome
        finally:
            self._waiting.discard(submission_id)

    async def record(
        self, submission_id: int, answer: RunResult | Refusal, *, notified: bool = False
    ) -> SubmissionOutcome:
        """Store the runner's answer and its points in one commit, once; return the outcome."""
        from gpu_runner.protocol import Refusal

        now = self._clock.now()
        async with self._sessions() as session:
            submission = await repo.get_submission(session, submission_id=submission_id)
            if submission is None:
                raise StudyBotError(f"No submission #{submission_id}.")
            if submission.status != repo.QUEUED:
                await session.rollback()
                return await self.outcome(submission_id, recorded_now=False)
            if isinstance(answer, Refusal):
                won = await repo.finish_submission(
                    session,
                    submission_id=submission_id,
                    status=repo.FAILED,
                    verdict=None,
                    result=answer.model_dump(mode="json"),
                    now=now,
                    error=f"The runner could not judge it: {answer.reason}",
                    notified=notified,
                )
                await session.commit()
                return await self.outcome(submission_id, recorded_now=won)
            time_s, noise_s, speedup = _timing_of(answer)
            member_id = submission.member_id
            cohort_id = submission.cohort_id
            before: list[boards.BoardRow] = []
            after: list[boards.BoardRow] = []
            first_pass = personal_best = first_place = False
            if answer.passed and member_id is not None and cohort_id is not None:
                # Two results of one member recorded at once must not both earn the same points.
                member = await points_repo.lock_member(session, member_id=member_id)
                first_pass = not await repo.has_passed(
                    session,
                    member_id=member_id,
                    drill_id=submission.drill_id,
                    exclude_submission=submission_id,
                )
                if time_s is not None and member is not None:
                    others = [
                        _run_of(s, m)
                        for s, m in await repo.passing_runs(
                            session,
                            cohort_id=cohort_id,
                            drill_id=submission.drill_id,
                            device_kind=submission.device_kind,
                            exclude_submission=submission_id,
                        )
                    ]
                    mine = boards.BoardRun(
                        submission_id=submission_id,
                        member_id=member_id,
                        member=member.display_name or member.platform_user_id,
                        time_s=time_s,
                        noise_s=noise_s or 0.0,
                        speedup=speedup,
                    )
                    before = boards.rank_board(others)
                    after = boards.rank_board([*others, mine])
                    previous = boards.rank_of(before, member_id)
                    personal_best = boards.improves_on(mine, previous.run if previous else None)
                    first_place = boards.takes_first_place(before, after, member_id)
            won = await repo.finish_submission(
                session,
                submission_id=submission_id,
                status=repo.DONE,
                verdict=answer.verdict,
                result=answer.model_dump(mode="json"),
                now=now,
                time_s=time_s,
                noise_s=noise_s,
                speedup=speedup,
                notified=notified,
            )
            if not won:
                await session.rollback()
                return await self.outcome(submission_id, recorded_now=False)
            awards = drill_awards(
                first_pass=first_pass, personal_best=personal_best, first_place=first_place
            )
            cohort = (
                await cohort_repo.get_cohort(session, cohort_id=cohort_id) if cohort_id else None
            )
            given = 0
            if member_id is not None and cohort is not None and cohort.id is not None:
                day = now.astimezone(ZoneInfo(cohort.timezone)).date()
                for reason, points in awards:
                    if await points_repo.award_points(
                        session,
                        cohort_id=cohort.id,
                        member_id=member_id,
                        kind="drill",
                        ref=f"drill:{reason}:{submission_id}",
                        points=points,
                        local_day=day,
                        at=now,
                    ):
                        given += points
            await session.commit()
        outcome = await self.outcome(
            submission_id,
            recorded_now=True,
            personal_best=personal_best,
            first_place=first_place,
            points=given,
            awards=awards,
        )
        if first_place and cohort is not None:
            await self._announce_first_place(cohort, outcome)
        return outcome

    async def outcome(
        self,
        submission_id: int,
        *,
        recorded_now: bool = False,
        personal_best: bool = False,
        first_place: bool = False,
        points: int = 0,
        awards: tuple[tuple[str, int], ...] = (),
    ) -> SubmissionOutcome:
        """Return a stored submission with its current place on its board."""
        async with self._sessions() as session:
            submission = await repo.get_submission(session, submission_id=submission_id)
            if submission is None:
                raise StudyBotError(f"No submission #{submission_id}.")
            rows: list[boards.BoardRow] = []
            if submission.cohort_id is not None:
                rows = await self._rows(
                    session, submission.cohort_id, submission.drill_id, submission.device_kind
                )
        rank = (
            boards.rank_of(rows, submission.member_id)
            if submission.member_id is not None and submission.verdict == "passed"
            else None
        )
        return SubmissionOutcome(
            submission=submission,
            recorded_now=recorded_now,
            rank=rank,
            board_size=len(rows),
            personal_best=personal_best,
            first_place=first_place,
            points=points,
            awards=awards,
        )

    async def _rows(
        self, session: AsyncSession, cohort_id: int, drill_id: str, device_kind: str
    ) -> list[boards.BoardRow]:
        runs = [
            _run_of(s, m)
            for s, m in await repo.passing_runs(
                session, cohort_id=cohort_id, drill_id=drill_id, device_kind=device_kind
            )
        ]
        return boards.rank_board(runs)

    async def _mark_notified(self, submission_id: int) -> None:
        async with self._sessions() as session:
            await repo.mark_notified(session, submission_id=submission_id)
            await session.commit()

    # --- boards ---------------------------------------------------------------------------

    async def board(self, actor: Actor, drill_id: str, device_kind: str | None = None) -> Board:
        """Return the drill's board on a device kind in the actor's cohort."""
        drill = await self.find_drill(drill_id)
        kind = check_device_kind(device_kind)
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            if cohort is None or cohort.id is None:
                raise NotAllowed(
                    "There is no cohort in this channel, so it has no drill boards.",
                    hint="Ask from your cohort's channel.",
                )
            rows = await self._rows(session, cohort.id, drill.id, kind)
        return Board(drill.id, kind, tuple(rows))

    async def _announce_first_place(self, cohort: Cohort, outcome: SubmissionOutcome) -> None:
        publisher = self._publishers.get(cohort.platform)
        row = outcome.rank
        if publisher is None or row is None:
            return
        sub = outcome.submission
        message = Message(
            header=f"🏆 New first place on {sub.drill_id} ({sub.device_kind})",
            text=f"{row.run.member} now leads {sub.drill_id} on {sub.device_kind} at "
            f"{_fmt_time(row.run.time_s)}. Try to beat it: /drill board {sub.drill_id}",
            tone="success",
        )
        channel = Channel(cohort.platform, cohort.workspace_id, cohort.channel_id)  # type: ignore[arg-type]
        try:
            await publisher.post(channel, message, idempotency_key=f"drill:first:{sub.id}")
        except Exception as exc:  # the record and the points stand; only the news is lost
            log.warning("announcing first place of submission %s failed: %s", sub.id, exc)

    # --- reconcile ------------------------------------------------------------------------

    async def reconcile(self, *, min_age: timedelta = timedelta(seconds=30)) -> ReconcileReport:
        """Collect, dispatch again or give up on queued submissions; one process at a time."""
        from gpu_runner.client import RunnerError

        report = ReconcileReport()
        async with self._sessions() as session:
            token = await claim_repo.acquire_claim(
                session,
                key=RECONCILER_CLAIM,
                holder=self.holder,
                now=self._clock.now(),
                policy=self.policy,
            )
            await session.commit()
        if token is None:
            return report
        report.claimed = True
        try:
            async with self._sessions() as session:
                queued = await repo.queued_submissions(
                    session, older_than=self._clock.now() - min_age
                )
            for submission in queued:
                assert submission.id is not None
                if submission.id in self._waiting:
                    continue  # a request here is waiting on it and records it itself
                try:
                    status = await self.runner.status(job_id_for(submission.id))
                except RunnerError as exc:
                    log.warning("the runner cannot be asked about submissions: %s", exc)
                    break
                async with self._sessions() as session:
                    await claim_repo.fence(
                        session, token=token, now=self._clock.now(), policy=self.policy
                    )
                    await session.commit()
                if status.state == "done" and status.result is not None:
                    outcome = await self.record(submission.id, status.result)
                    report.collected += int(outcome.recorded_now)
                elif status.state == "unknown":
                    if await self._owner_still_judging(submission):
                        report.left_to_owner += 1
                        continue
                    if submission.dispatches >= self.max_dispatches:
                        report.given_up += int(await self._give_up(submission))
                    else:
                        await self._dispatch(submission)
                        report.redispatched += 1
            report.notified = await self._notify_unnotified(token)
        except FenceTooSlow as exc:  # the claim is given back below; the next pass resumes
            log.warning("the submission reconciler stops this pass: %s", exc)
            return report
        except ClaimLost:
            log.info("another process took the submission reconciler over")
            return report
        finally:
            async with self._sessions() as session:
                await claim_repo.release_claim(session, token=token, now=self._clock.now())
                await session.commit()
        return report

    async def _owner_still_judging(self, submission: Submission) -> bool:
        """Tell whether another live process holds this job in a runner only it can see.

        A process-local runner (the `local` backend's pool) answers "unknown" for every job
        another bot process dispatched; dispatching it again would judge it twice. Such a job
        is left to its owner while the owner's heartbeat is fresh.
        """
        from bot.store import processes as process_repo

        owner = submission.dispatched_by
        if not getattr(self.runner, "process_local", False) or owner in (None, self.holder):
            return False
        async with self._sessions() as session:
            row = await process_repo.get_process(session, process_id=owner)
        if row is None or row.stopped_at is not None:
            return False
        return row.heartbeat_at >= self.policy.heartbeat_cutoff(self._clock.now())

    async def _give_up(self, submission: Submission) -> bool:
        assert submission.id is not None
        async with self._sessions() as session:
            won = await repo.finish_submission(
                session,
                submission_id=submission.id,
                status=repo.FAILED,
                verdict=None,
                result={},
                now=self._clock.now(),
                error=(
                    f"The runner lost this job {submission.dispatches} times, so it was not "
                    "judged. Submit it again with /submit."
                ),
            )
            await session.commit()
        return won

    async def _notify_unnotified(self, token: ClaimToken) -> int:
        """Tell members the results no one told them yet, each DM exactly once.

        Each part of a result goes out keyed (`result_dm_key`): a process killed between
        sending and recording left the DM in the member's conversation, where the next pass
        finds it instead of sending it again. Every send starts on a fresh fence check and the
        record is fenced in its own commit, so a process paused past its lease while another
        took over neither sends nor records.
        """
        async with self._sessions() as session:
            pending = await repo.unnotified_submissions(session)
        fenced_from: datetime | None = None

        async def fence() -> None:
            # A check begun before a pause or a stall does not cover a send now.
            nonlocal fenced_from

            async def check(checked_from: datetime) -> None:
                async with self._sessions() as session:
                    await claim_repo.fence(
                        session, token=token, now=checked_from, policy=self.policy
                    )
                    await session.commit()

            fenced_from = await claim_repo.fence_for_send(
                self.policy, self._clock.now, fenced_from, check, token=token
            )

        told = 0
        for submission in pending:
            assert submission.id is not None
            if submission.id in self._waiting:
                continue
            reply_to = submission.reply_to or {}
            publisher = self._publishers.get(str(reply_to.get("platform")))
            user = reply_to.get("user_id")
            if publisher is None or not user:
                continue  # told once a face for its platform is up
            outcome = await self.outcome(submission.id)
            try:
                for index, message in enumerate(render_outcome(outcome).messages):
                    key = result_dm_key(submission.id, index)
                    if await self._find_dm(publisher, str(user), key) is not None:
                        continue
                    await fence()
                    await publisher.send_dm(str(user), message, idempotency_key=key)
            except ClaimLost:
                raise
            except Exception as exc:  # stays unnotified: the next pass tries again
                log.warning("could not tell %s about submission %s: %s", user, submission.id, exc)
                continue
            checked_from = self._clock.now()
            async with self._sessions() as session:
                await claim_repo.fence(session, token=token, now=checked_from, policy=self.policy)
                await repo.mark_notified(session, submission_id=submission.id)
                await session.commit()
            fenced_from = checked_from
            told += 1
        return told

    async def _find_dm(self, publisher: Publisher, user: str, key: str) -> SentMessage | None:
        """Look for a keyed DM; a face that can never look (a missing scope) sends unlooked."""
        try:
            return await publisher.find_dm(user, key)
        except PublishError as exc:
            if exc.transient:
                raise
            # Refusing to send would lose every result for good; sending unlooked can only
            # repeat a DM a crash interrupted. The warning names what the face was refused.
            log.warning(
                "cannot look for DM %s to %s (%s): sending it without looking", key, user, exc
            )
            return None

    # --- the whole /submit -----------------------------------------------------------------

    async def submit_and_wait(
        self,
        actor: Actor,
        drill_id: str,
        data: bytes | str,
        *,
        device_kind: str | None = None,
        on_status: StatusListener | None = None,
    ) -> Reply:
        """Submit a file, wait for its verdict (reporting progress), and render the result."""
        submission = await self.submit(actor, drill_id, data, device_kind=device_kind)
        assert submission.id is not None
        if on_status is not None:
            first = on_status(SubmissionProgress(submission.id, "queued"))
            if first is not None:
                await first
        outcome = await self.wait(submission.id, on_status=on_status)
        return render_outcome(outcome)


def _fmt_time(seconds: float) -> str:
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def render_outcome(outcome: SubmissionOutcome) -> Reply:
    """Render a stored submission: verdict, judge's message, timing, speed-up, rank, best."""
    sub = outcome.submission
    if sub.status == repo.FAILED:
        return Reply.of(
            Message(
                header=f"Submission #{sub.id} ({sub.drill_id}): not judged",
                text=sub.last_error or "The runner could not judge it.",
                tone="warning",
            )
        )
    result = sub.result or {}
    verdict = str(sub.verdict or "")
    fields: list[MessageField] = []
    cases = f"{result.get('cases_passed', 0)}/{result.get('cases_total', 0)} cases"
    fields.append(MessageField("Cases", cases, inline=True))
    if sub.time_s is not None:
        noise = f" ± {_fmt_time(2 * sub.noise_s)}" if sub.noise_s else ""
        fields.append(MessageField("Time", f"{_fmt_time(sub.time_s)}{noise}", inline=True))
    if sub.speedup is not None:
        fields.append(MessageField("Speed-up over reference", f"{sub.speedup:.2f}×", inline=True))
    if outcome.rank is not None:
        tie = " (tied)" if outcome.rank.tied else ""
        fields.append(
            MessageField(
                f"Rank ({sub.device_kind})",
                f"{outcome.rank.rank} of {outcome.board_size}{tie}",
                inline=True,
            )
        )
    notes = []
    if outcome.personal_best:
        notes.append("Personal best!")
    if outcome.first_place:
        notes.append("New first place!")
    if outcome.points:
        notes.append(f"+{outcome.points} points.")
    if verdict == "passed" and sub.time_s is None:
        notes.append("Judged without timing, so it is not ranked.")
    messages = [
        Message(
            header=f"{_ICON.get(verdict, '')} Submission #{sub.id} ({sub.drill_id}): {verdict}",
            text=str(result.get("message", "")),
            fields=tuple(fields),
            footer=" ".join(notes) or None,
            tone="success" if verdict == "passed" else "warning",
        )
    ]
    output = str(result.get("output", ""))
    if output.strip():
        messages.append(Message(header="What your code printed", code=output, code_language=""))
    return Reply.of(*messages)


def render_board(board: Board) -> Message:
    """Render a drill's board: rank, member, time with its noise, speed-up; ties marked."""
    if not board.rows:
        return Message(
            header=f"{board.drill_id} ({board.device_kind}): no passing runs yet",
            text=f"Be the first: /submit {board.drill_id} <file>",
        )
    lines = []
    for row in board.rows:
        run = row.run
        tie = "=" if row.tied else " "
        speed = f" · {run.speedup:.2f}×" if run.speedup is not None else ""
        noise = f" ± {_fmt_time(2 * run.noise_s)}" if run.noise_s else ""
        lines.append(f"{row.rank:>3}{tie} {run.member} — {_fmt_time(run.time_s)}{noise}{speed}")
    return Message(
        header=f"{board.drill_id} leaderboard ({board.device_kind})",
        text="\n".join(lines),
        footer="= tied: within the judge's measured noise of each other.",
    )


def board_json(board: Board) -> dict[str, Any]:
    """Return a board as plain data (for --json)."""
    return {
        "drill": board.drill_id,
        "device_kind": board.device_kind,
        "rows": [
            {
                "rank": row.rank,
                "tied": row.tied,
                "member": row.run.member,
                "submission_id": row.run.submission_id,
                "time_s": row.run.time_s,
                "noise_s": row.run.noise_s,
                "speedup": row.run.speedup,
            }
            for row in board.rows
        ],
    }


def outcome_json(outcome: SubmissionOutcome) -> dict[str, Any]:
    """Return a stored submission with its rank as plain data (for --json)."""
    sub = outcome.submission
    return {
        "submission_id": sub.id,
        "drill": sub.drill_id,
        "device_kind": sub.device_kind,
        "status": sub.status,
        "verdict": sub.verdict,
        "message": (sub.result or {}).get("message") if sub.status == repo.DONE else sub.last_error,
        "time_s": sub.time_s,
        "noise_s": sub.noise_s,
        "speedup": sub.speedup,
        "rank": outcome.rank.rank if outcome.rank else None,
        "tied": outcome.rank.tied if outcome.rank else False,
        "board_size": outcome.board_size,
        "personal_best": outcome.personal_best,
        "first_place": outcome.first_place,
        "points": outcome.points,
        "created_at": _iso(sub.created_at),
        "finished_at": _iso(sub.finished_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _builtin_ids() -> set[str]:
    from gpu_runner.drills import DRILLS

    return set(DRILLS)


def drill_summaries() -> Sequence[tuple[str, str]]:
    """Return (id, title) of every drill."""
    from gpu_runner.drills import DRILLS

    return [(drill.id, drill.title) for drill in DRILLS.values()]
