"""The web dashboard's use cases: signed single-use links, who may see what, and page data.

A member asks `/dashboard` in chat and gets a short-lived link. The link carries a signed nonce;
the nonce's row records the member, the cohort and whether it was used, so a link opens one
session once, even when two processes serve the dashboard. Opening it gives a signed session
that names the member and the cohort; every page checks it against the database again (a
member who left, or was made admin, is seen as they are now).

Pages only read. What is costly to compute over a large ledger (leaderboards, the hardest
questions, chart series) is kept per cohort under the data version (the newest ledger entry,
grade and finished submission), so it is computed once per change and then served from memory.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, Signer, URLSafeSerializer
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain import leaderboards as rules
from bot.domain import streaks
from bot.domain.curriculum import day_to_show, schedule_of, today_day
from bot.domain.drill_boards import BoardRow, BoardRun, rank_board
from bot.errors import NotAllowed, NotFound, StudyBotError
from bot.services.context import Actor
from bot.services.standings import MemberStats, RankedTop, StandingsService
from bot.store import cohorts as cohort_repo
from bot.store import dashboard as repo
from bot.store import submissions as submission_repo
from bot.store.models import Cohort, DashboardLink, Member

if TYPE_CHECKING:
    from content import Library

log = logging.getLogger(__name__)

T = TypeVar("T")
PERIODS = rules.PERIODS
METRICS = rules.METRICS
SECRET_NAME = "dashboard"
BOARD_PAGE = 50  # leaderboard rows shown before the viewer's own row is added
NO_SUCH_MEMBER = "There is no such member in this cohort."


class AccessRefused(StudyBotError):
    """A link or session that does not open this page: expired, used, tampered or elsewhere."""


@dataclass(frozen=True)
class IssuedLink:
    """A sign-in link made for a member, and when it stops working."""

    url: str
    expires_at: datetime


@dataclass(frozen=True)
class WebSession:
    """Who a browser session is: the member, the cohort, and until when."""

    cohort_id: int
    member_id: int
    workspace_admin: bool
    expires_at: datetime


@dataclass(frozen=True)
class Viewer:
    """A checked session: the member as they are now, and what they may see."""

    cohort: Cohort
    member: Member
    admin: bool
    version: tuple[int, ...] = ()  # the data version when the request began (see `_cached`)

    @property
    def cohort_id(self) -> int:
        """Return the cohort's id."""
        assert self.cohort.id is not None
        return self.cohort.id

    @property
    def member_id(self) -> int:
        """Return the member's id."""
        assert self.member.id is not None
        return self.member.id

    def may_see_answers_of(self, member_id: int) -> bool:
        """Tell whether this viewer may read that member's answers and scorecards."""
        return member_id == self.member_id or self.admin or self.cohort.answers_public


@dataclass(frozen=True)
class Overview:
    """The cohort at a glance."""

    cohort_name: str
    day: int
    days_total: int
    started: bool
    paused: bool
    posts_made: int
    posts_missed: int
    members: int
    active_this_week: int
    week: tuple[tuple[date, int], ...]


@dataclass(frozen=True)
class StandingRow:
    """One member's place on a leaderboard."""

    rank: int
    member_id: int
    name: str
    value: int
    own: bool = False


@dataclass(frozen=True)
class Leaderboard:
    """A leaderboard page: the top rows, and the viewer's own row when it is further down."""

    period: str
    metric: str
    rows: tuple[StandingRow, ...]
    own: StandingRow | None
    ranked: int
    since: date | None = None


@dataclass(frozen=True)
class DrillBoardPage:
    """A drill's board on one device kind, rows ranked with ties."""

    drill_id: str
    device_kind: str
    rows: tuple[BoardRow, ...]


@dataclass(frozen=True)
class PointVerdict:
    """One rubric point of a graded answer."""

    rubric: str
    verdict: str
    evidence: str
    comment: str


@dataclass(frozen=True)
class GradedAnswer:
    """An answer with its grade, point by point."""

    answer_id: int
    question_id: str
    created_at: datetime
    status: str
    text: str
    score: float | None
    grader: str | None
    feedback: str
    points: tuple[PointVerdict, ...]


@dataclass(frozen=True)
class MockEntry:
    """A finished mock: the member's role, the partner, the kind, and its scorecard."""

    room_id: int
    kind: str
    role: str
    partner: str
    finished_at: datetime | None
    ratings: tuple[tuple[str, str], ...]
    red_flags: tuple[str, ...]
    green_flags: tuple[str, ...]
    comment: str


@dataclass(frozen=True)
class SubmissionEntry:
    """A drill submission and what the judge said."""

    submission_id: int
    drill_id: str
    device_kind: str
    status: str
    verdict: str | None
    time_s: float | None
    speedup: float | None
    created_at: datetime
    message: str


@dataclass(frozen=True)
class SectionCoverage:
    """How many of a bank section's questions a member has a graded answer to."""

    code: str  # "E.3"
    title: str
    answered: int
    total: int
    average: float | None = None  # the mean of the best score per answered question


@dataclass(frozen=True)
class MemberPage:
    """Everything the member page shows; answers and mocks only when the viewer may see them."""

    member_id: int
    name: str
    own: bool
    total_points: int
    points: tuple[tuple[date, int], ...]
    active_days: frozenset[date]
    calendar_start: date
    calendar_end: date
    coverage: tuple[SectionCoverage, ...]
    streak: int
    longest_streak: int
    rank: int | None
    answers_visible: bool
    answers: tuple[GradedAnswer, ...] = ()
    mocks: tuple[MockEntry, ...] = ()
    submissions: tuple[SubmissionEntry, ...] = ()


@dataclass(frozen=True)
class HardQuestion:
    """A question the cohort scores lowest on."""

    question_id: str
    average: float
    answers: int
    text: str


@dataclass(frozen=True)
class QuestionPage:
    """A question with its rubric."""

    question_id: str
    text: str
    rubric: tuple[str, ...]
    tests: str | None


@dataclass
class _Cache:
    """Results computed under one data version; at most `size` kept, least recent out first."""

    size: int = 512
    entries: OrderedDict[tuple[Any, ...], tuple[Any, Any]] = field(default_factory=OrderedDict)

    def get(self, key: tuple[Any, ...], version: Any) -> Any | None:
        found = self.entries.get(key)
        if found is None or found[0] != version:
            return None
        self.entries.move_to_end(key)
        return found[1]

    def put(self, key: tuple[Any, ...], version: Any, value: Any) -> None:
        self.entries[key] = (version, value)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


def _read_sessions(
    sessions: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """Return sessions for the pages' reads: each statement on its own, no transaction.

    A page reads a handful of rows and writes nothing; without BEGIN and ROLLBACK around its
    statements it makes two round trips fewer to the database, which under twenty concurrent
    clients is time every other request on the event loop waits too.
    """
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        return sessions
    return async_sessionmaker(
        bind.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
    )


class DashboardService:
    """Links, sessions and the read-only pages of the web dashboard."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        library: Callable[[], Library],
        *,
        base_url: str,
        secret: str | None = None,
        link_ttl: timedelta = timedelta(minutes=15),
        single_use: bool = True,
        session_ttl: timedelta = timedelta(hours=12),
        standings: StandingsService | None = None,
    ) -> None:
        self._sessions = sessions
        self._reads = _read_sessions(sessions)
        self._standings = standings or StandingsService(sessions, clock, library())
        self._clock = clock
        self._library = library
        self.base_url = base_url.rstrip("/")
        self._secret = secret
        self.link_ttl = link_ttl
        self.single_use = single_use
        self.session_ttl = session_ttl
        self._cache = _Cache()
        self._computing: dict[tuple[Any, ...], asyncio.Future[Any]] = {}
        self._totals: tuple[Library, dict[int, int]] | None = None

    async def ready_connections(self) -> int:
        """Open the pool's connections together and read a member page on each; return how many.

        A pool opens a connection only when one is asked for, and a new connection is slow the
        first time: connecting, the server loading what it knows of each table read, the page's
        statement parsed and planned. Twenty clients arriving together after a start would
        each pay for that, so a server of its own pays for it once before it takes requests.
        """
        bind = self._reads.kw.get("bind")
        size = getattr(getattr(bind, "pool", None), "size", None)
        count = size() if callable(size) else 1
        ready = asyncio.Barrier(count)  # every connection held at once: none is reused

        async def one() -> None:
            try:
                async with self._reads() as session:
                    await repo.viewer_and_member_head(session, cohort_id=0, member_id=0, shown_id=0)
                    await ready.wait()
            except BaseException:
                await ready.abort()
                raise

        await asyncio.gather(*(one() for _ in range(count)))
        return count

    # --- the signing secret ---------------------------------------------------------------

    async def signing_secret(self) -> str:
        """Return the secret links and sessions are signed with: set, or generated once."""
        if self._secret is not None:
            return self._secret
        async with self._sessions() as session:
            found = await repo.get_secret(session, name=SECRET_NAME)
            if found is None:
                try:
                    await repo.add_secret(
                        session, name=SECRET_NAME, value=secrets.token_urlsafe(48)
                    )
                    await session.commit()
                except IntegrityError:  # another process generated it first: use theirs
                    await session.rollback()
                found = await repo.get_secret(session, name=SECRET_NAME)
        assert found is not None
        self._secret = found
        return found

    async def _link_signer(self) -> Signer:
        # A bare signed nonce keeps the link short enough to stay on one line in a terminal.
        return Signer(await self.signing_secret(), salt="studybot.dashboard.link")

    async def _serializer(self, purpose: str) -> URLSafeSerializer:
        return URLSafeSerializer(await self.signing_secret(), salt=f"studybot.dashboard.{purpose}")

    # --- links and sessions -----------------------------------------------------------------

    async def issue_link(self, actor: Actor) -> IssuedLink:
        """Make a short-lived sign-in link for the actor in this channel's cohort."""
        now = self._clock.now()
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            if cohort is None or cohort.id is None:
                raise NotFound(
                    "This channel has no cohort, so it has no dashboard.",
                    hint="Ask from your cohort's channel.",
                )
            member = await cohort_repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
            if member is None or member.id is None or not member.active:
                raise NotAllowed(
                    "The dashboard is for this cohort's members.",
                    hint="Join with /cohort join, then ask again.",
                )
            link = DashboardLink(
                id=secrets.token_urlsafe(16),
                cohort_id=cohort.id,
                member_id=member.id,
                admin=actor.is_workspace_admin,
                created_at=now,
                expires_at=now + self.link_ttl,
            )
            await repo.add_link(session, link=link)
            await session.commit()
        token = (await self._link_signer()).sign(link.id).decode("ascii")
        return IssuedLink(f"{self.base_url}/open/{token}", link.expires_at)

    async def check_link(self, token: str) -> DashboardLink:
        """Return the link a token names while it may still be opened; else AccessRefused."""
        link_id = await self._link_id(token)
        async with self._sessions() as session:
            link = await repo.get_link(session, link_id=link_id)
        self._refuse_unless_open(link)
        assert link is not None
        return link

    async def open_link(self, token: str) -> WebSession:
        """Use a link (once, when single use is on) and return the session it opens."""
        link_id = await self._link_id(token)
        now = self._clock.now()
        async with self._sessions() as session:
            link = await repo.get_link(session, link_id=link_id)
            self._refuse_unless_open(link)
            assert link is not None
            if self.single_use:
                if not await repo.use_link(session, link_id=link_id, now=now):
                    raise AccessRefused("This link was used already.")
                await session.commit()
        return WebSession(link.cohort_id, link.member_id, link.admin, now + self.session_ttl)

    async def _link_id(self, token: str) -> str:
        try:
            return (await self._link_signer()).unsign(token).decode("ascii")
        except (BadSignature, UnicodeError):
            raise AccessRefused("This link is not valid.") from None

    def _refuse_unless_open(self, link: DashboardLink | None) -> None:
        if link is None:
            raise AccessRefused("This link is not valid.")
        if link.expires_at <= self._clock.now():
            raise AccessRefused("This link has expired.")
        if self.single_use and link.used_at is not None:
            raise AccessRefused("This link was used already.")

    async def session_cookie(self, web_session: WebSession) -> str:
        """Return the signed cookie value of a session."""
        payload = {
            "c": web_session.cohort_id,
            "m": web_session.member_id,
            "a": web_session.workspace_admin,
            "e": int(web_session.expires_at.timestamp()),
        }
        return str((await self._serializer("session")).dumps(payload))

    async def read_cookie(self, value: str | None) -> WebSession | None:
        """Return the session a cookie carries, or None when absent, tampered or expired."""
        if not value:
            return None
        try:
            data = (await self._serializer("session")).loads(value)
            expires = datetime.fromtimestamp(int(data["e"]), tz=self._clock.now().tzinfo)
            found = WebSession(int(data["c"]), int(data["m"]), bool(data["a"]), expires)
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        return found if found.expires_at > self._clock.now() else None

    async def viewer(self, web_session: WebSession | None, cohort_id: int) -> Viewer:
        """Return who is looking at this cohort's pages, or refuse (not theirs, or gone)."""
        async with self._reads() as session:  # one statement per request
            return await self._viewer_in(session, web_session, cohort_id)

    async def _viewer_in(
        self, session: AsyncSession, web_session: WebSession | None, cohort_id: int
    ) -> Viewer:
        if web_session is None:
            raise AccessRefused("Open the dashboard with a link from /dashboard in your cohort.")
        if web_session.cohort_id != cohort_id:
            raise AccessRefused("This page belongs to a cohort your session is not for.")
        found = await repo.viewer_of(session, cohort_id=cohort_id, member_id=web_session.member_id)
        return self._checked_viewer(web_session, found)

    @staticmethod
    def _checked_viewer(
        web_session: WebSession, found: tuple[Cohort, Member, tuple[int, int]] | None
    ) -> Viewer:
        if found is None or not found[1].active:
            raise AccessRefused("Your membership of this cohort has ended.")
        cohort, member, version = found
        admin = member.is_admin or web_session.workspace_admin
        return Viewer(cohort, member, admin=admin, version=version)

    # --- public leaderboard ---------------------------------------------------------------

    async def set_leaderboard_public(self, actor: Actor, public: bool) -> None:
        """Record a cohort admin's choice of a public leaderboard page (admins only)."""
        async with self._sessions() as session:
            cohort = await cohort_repo.find_cohort_in(session, channel=actor.channel)
            if cohort is None or cohort.id is None:
                raise NotFound("This channel has no cohort yet.")
            member = await cohort_repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
            if not actor.is_workspace_admin and (member is None or not member.is_admin):
                raise NotAllowed("Only this cohort's admins can make its leaderboard public.")
            await repo.set_leaderboard_public(
                session, cohort_id=cohort.id, public=public, now=self._clock.now()
            )
            await session.commit()

    async def public_cohort(self, cohort_id: int) -> Cohort:
        """Return a cohort whose leaderboard is public, or refuse as for any other page."""
        async with self._sessions() as session:
            cohort = await cohort_repo.get_cohort(session, cohort_id=cohort_id)
            public = await repo.leaderboard_public(session, cohort_id=cohort_id)
        if cohort is None or not public:
            raise AccessRefused("This cohort's leaderboard is not public.")
        return cohort

    # --- cached reads -----------------------------------------------------------------------

    async def data_version(self) -> tuple[int, ...]:
        """Return the version every cached result is keyed on (changes with any new data)."""
        async with self._reads() as session:
            return await repo.data_version(session)

    async def _cached(
        self,
        key: tuple[Any, ...],
        compute: Callable[[], Awaitable[T]],
        version: tuple[int, ...] | None = None,
    ) -> T:
        if not version:
            version = await self.data_version()
        found = self._cache.get(key, version)
        if found is not None:
            return found  # type: ignore[no-any-return]
        # Twenty clients on a cold page compute it once: the first starts it as a task of its
        # own (a client that goes away does not cancel it for the others), the rest await it.
        flight = (key, version)
        task = self._computing.get(flight)
        if task is None:
            task = asyncio.ensure_future(compute())
            self._computing[flight] = task

            def keep(done: asyncio.Future[Any]) -> None:
                del self._computing[flight]
                if not done.cancelled() and done.exception() is None:
                    self._cache.put(key, version, done.result())

            task.add_done_callback(keep)
        return await asyncio.shield(task)  # type: ignore[no-any-return]

    # --- pages ------------------------------------------------------------------------------

    def _local_today(self, cohort: Cohort) -> date:
        return self._clock.now().astimezone(ZoneInfo(cohort.timezone)).date()

    async def overview(self, viewer: Viewer) -> Overview:
        """Return the cohort at a glance: its day, its posts, who is active, the week's points."""
        cohort = viewer.cohort
        now = self._clock.now()
        schedule = schedule_of(cohort)
        started = today_day(schedule, now) is not None or now.date() > cohort.start_date
        today = self._local_today(cohort)
        since = today - timedelta(days=6)

        async def count() -> tuple[dict[str, int], int, int]:
            async with self._reads() as session:
                counts = await repo.post_counts(session, cohort_id=viewer.cohort_id)
                members = await repo.count_members(session, cohort_id=viewer.cohort_id)
                active = await repo.active_members_since(
                    session,
                    cohort_id=viewer.cohort_id,
                    since_day=since,
                    since=now - timedelta(days=7),
                )
            return counts, members, active

        # A week of a large cohort's ledger is tens of thousands of rows: counted once per
        # change, and at least hourly (posts, joins and answers without points change it too).
        hour = now.replace(minute=0, second=0, microsecond=0)
        counts, members, active = await self._cached(
            ("overview", viewer.cohort_id, hour), count, viewer.version
        )
        week = await self.week_points(viewer.cohort_id, today, viewer.version)
        return Overview(
            cohort_name=cohort.name,
            day=day_to_show(schedule, now),
            days_total=cohort.curriculum_length,
            started=started,
            paused=cohort.paused,
            posts_made=counts.get("posted", 0),
            posts_missed=counts.get("missed", 0) + counts.get("failed", 0),
            members=members,
            active_this_week=active,
            week=week,
        )

    async def week(self, viewer: Viewer) -> tuple[tuple[date, int], ...]:
        """Return the viewer's cohort's points of each of the last seven local days."""
        return await self.week_points(
            viewer.cohort_id, self._local_today(viewer.cohort), viewer.version
        )

    async def week_points(
        self, cohort_id: int, today: date, version: tuple[int, ...] = ()
    ) -> tuple[tuple[date, int], ...]:
        """Return the cohort's points of each of the last seven local days (zero-filled)."""

        async def compute() -> tuple[tuple[date, int], ...]:
            since = today - timedelta(days=6)
            async with self._reads() as session:
                found = dict(
                    await repo.points_by_day(session, cohort_id=cohort_id, since_day=since)
                )
            return tuple(
                (since + timedelta(days=i), found.get(since + timedelta(days=i), 0))
                for i in range(7)
            )

        return await self._cached(("week", cohort_id, today), compute, version)

    async def leaderboard(
        self, viewer: Viewer | None, cohort: Cohort, period: str = "week", metric: str = "points"
    ) -> Leaderboard:
        """Return a standings board (period and metric), the viewer's own row marked.

        The top rows are the standings service's, asked once per data version and shared by
        every viewer; a viewer further down is placed once per version too.
        """
        if period not in PERIODS or metric not in METRICS:
            raise NotFound(f"There is no {metric} leaderboard for {period!r}.")
        version = viewer.version if viewer is not None else None
        board = await self._board_top(cohort, period, metric, version)
        own_id = viewer.member_id if viewer is not None else None
        top = tuple(
            StandingRow(r.rank, r.member_id, name, r.value, own=r.member_id == own_id)
            for r, name in board.rows
        )
        own = None
        if viewer is not None and own_id is not None and not any(r.own for r in top):
            place = await self._place(cohort, period, metric, own_id, board, version)
            if place is not None:
                name = viewer.member.display_name or viewer.member.platform_user_id
                own = StandingRow(place.rank, place.member_id, name, place.value, own=True)
        return Leaderboard(period, metric, top, own, board.total, board.since)

    async def _board_top(
        self, cohort: Cohort, period: str, metric: str, version: tuple[int, ...] | None
    ) -> RankedTop:
        """Return a board's top rows, asked of the standings once per data version."""
        assert cohort.id is not None
        cohort_id = cohort.id
        today = self._local_today(cohort)

        async def compute() -> RankedTop:
            return await self._standings.board_top(
                cohort_id=cohort_id, period=period, metric=metric, today=today, limit=BOARD_PAGE
            )

        return await self._cached(("board", cohort_id, period, metric, today), compute, version)

    async def _place(
        self,
        cohort: Cohort,
        period: str,
        metric: str,
        member_id: int,
        board: RankedTop,
        version: tuple[int, ...] | None,
    ) -> rules.Ranked | None:
        """Return a member's place below the top rows (kept per member and data version)."""
        if board.places is not None:  # ranked in Python: every place is known already
            return board.places.get(member_id)
        assert cohort.id is not None
        cohort_id = cohort.id
        today = self._local_today(cohort)

        async def compute() -> tuple[rules.Ranked | None]:  # a tuple, so "not placed" is kept
            return (
                await self._standings.place_on_board(
                    cohort_id=cohort_id,
                    period=period,
                    metric=metric,
                    today=today,
                    member_id=member_id,
                ),
            )

        key = ("place", cohort_id, period, metric, today, member_id)
        return (await self._cached(key, compute, version))[0]

    async def member_stats(self, viewer: Viewer, member_id: int) -> MemberStats:
        """Return a member's standings stats (points, streak, days, sections), per version.

        The stats are read in one statement and name the member's cohort, so the check that
        the member is in the viewer's cohort needs no statement of its own.
        """

        async def compute() -> MemberStats:
            try:
                return await self._standings.member_stats_of(member_id)
            except NotFound:
                raise NotFound(NO_SUCH_MEMBER) from None

        stats: MemberStats = await self._cached(
            ("stats", viewer.cohort_id, member_id), compute, viewer.version
        )
        if stats.cohort_id != viewer.cohort_id:
            raise NotFound(NO_SUCH_MEMBER)
        return stats

    async def drill_boards(self, viewer: Viewer) -> list[tuple[str, str, int]]:
        """Return (drill, device kind, passing runs) of every board in the cohort."""
        async with self._reads() as session:
            return await repo.drill_devices(session, cohort_id=viewer.cohort_id)

    async def drill_board(self, viewer: Viewer, drill_id: str, device_kind: str) -> DrillBoardPage:
        """Return one drill's board on a device kind, ranked with ties."""
        async with self._reads() as session:
            runs = await submission_repo.passing_runs(
                session, cohort_id=viewer.cohort_id, drill_id=drill_id, device_kind=device_kind
            )
        board_runs = [
            BoardRun(
                submission_id=s.id or 0,
                member_id=m.id or 0,
                member=m.display_name or m.platform_user_id,
                time_s=float(s.time_s or 0.0),
                noise_s=float(s.noise_s or 0.0),
                speedup=s.speedup,
            )
            for s, m in runs
        ]
        if not board_runs:
            raise NotFound(f"No passing runs of {drill_id} on {device_kind} in this cohort.")
        return DrillBoardPage(drill_id, device_kind, tuple(rank_board(board_runs)))

    async def member_page(self, viewer: Viewer, member_id: int) -> MemberPage:
        """Return a member's page: points, coverage, activity, and (when allowed) answers."""
        async with self._reads() as session:
            return await self._member_page_in(session, viewer, member_id)

    async def member_view(
        self, web_session: WebSession | None, cohort_id: int, member_id: int
    ) -> tuple[Viewer, MemberPage]:
        """Return the viewer and a member's page, checked and read over one connection."""
        if web_session is None or web_session.cohort_id != cohort_id:
            await self.viewer(web_session, cohort_id)  # refuses, saying why
        assert web_session is not None
        async with self._reads() as session:
            found = await repo.viewer_and_member_head(
                session, cohort_id=cohort_id, member_id=web_session.member_id, shown_id=member_id
            )
            viewer = self._checked_viewer(web_session, found[:3] if found else None)
            assert found is not None
            head = found[3]
            if head is None:
                raise NotFound(NO_SUCH_MEMBER)
            return viewer, await self._member_page_in(session, viewer, member_id, head)

    async def _member_page_in(
        self,
        session: AsyncSession,
        viewer: Viewer,
        member_id: int,
        found: tuple[Any, repo.MemberBody] | None = None,
    ) -> MemberPage:
        # Read on every view, not kept under the data version: an answer waiting for its grade
        # or a failed submission adds nothing to the ledger, and the page shows both.
        visible = viewer.may_see_answers_of(member_id)
        today = self._local_today(viewer.cohort)
        start = today - timedelta(days=7 * 12 + today.weekday())
        if found is None:  # read with the viewer's check when the page is asked by its route
            found = await repo.member_head(session, member_id=member_id, cohort_id=viewer.cohort_id)
        if found is None or found[0].cohort_id != viewer.cohort_id:
            raise NotFound(NO_SUCH_MEMBER)
        # The standings' own rows, read with the head: the page needs neither the chart's whole
        # stats nor the rank computed again from every member's total (the board has it).
        head, body = found
        days, scores, subs = body.days, body.scores, body.submissions
        answers = body.answers if visible else []
        mocks = body.mocks if visible else []
        zone = head.timezone or viewer.cohort.timezone
        stored = (
            streaks.Streak(head.streak, head.longest, head.freezes, head.streak_day, head.streak_tz)
            if head.standing_of is not None
            else streaks.Streak()
        )
        streak = streaks.on_day(stored, self._clock.now().astimezone(ZoneInfo(zone)).date())
        return MemberPage(
            member_id=member_id,
            name=head.display_name or head.platform_user_id,
            own=member_id == viewer.member_id,
            total_points=head.points or 0,
            points=tuple(days),
            active_days=frozenset(day for day, _ in days if day >= start),
            calendar_start=start,
            calendar_end=today,
            coverage=self._coverage(scores),
            streak=streak.current,
            longest_streak=streak.longest,
            rank=head.rank,
            answers_visible=visible,
            answers=tuple(_graded(row) for row in answers),
            mocks=tuple(_mock_entry(row, member_id) for row in mocks),
            submissions=tuple(_submission_entry(row) for row in subs),
        )

    def _coverage(self, scores: Sequence[tuple[str, float]]) -> tuple[SectionCoverage, ...]:
        """Return each bank section's questions answered, by the standings' question links."""
        library = self._library()
        best: dict[str, float] = {}
        for qid, score in scores:
            bank = self._standings.bank_id_of(qid)
            if bank is not None:
                best[bank] = max(score, best.get(bank, 0.0))
        by_section: dict[int | None, list[float]] = {}
        for bank, score in best.items():
            by_section.setdefault(self._standings.section_of(bank), []).append(score)
        totals = self._section_totals(library)
        out = []
        for section in library.sections:
            mine = by_section.get(section.number, [])
            out.append(
                SectionCoverage(
                    section.code,
                    section.title,
                    len(mine),
                    totals.get(section.number, 0),
                    sum(mine) / len(mine) if mine else None,
                )
            )
        return tuple(out)

    def _section_totals(self, library: Library) -> dict[int, int]:
        """Return how many questions each section has, counted once per library loaded."""
        if self._totals is None or self._totals[0] is not library:
            totals: dict[int, int] = {}
            for question in library.questions.values():
                totals[question.section] = totals.get(question.section, 0) + 1
            self._totals = (library, totals)
        return self._totals[1]

    async def hardest_questions(self, viewer: Viewer, limit: int = 20) -> list[HardQuestion]:
        """Return the questions the cohort scores lowest on, with their text."""

        async def compute() -> tuple[tuple[str, float, int], ...]:
            async with self._reads() as session:
                return tuple(
                    await repo.hardest_questions(session, cohort_id=viewer.cohort_id, limit=limit)
                )

        rows = await self._cached(("hardest", viewer.cohort_id, limit), compute, viewer.version)
        return [HardQuestion(q, avg, n, self._question_text(q)) for q, avg, n in rows]

    def _question_text(self, qid: str) -> str:
        try:
            return str(getattr(self._library().find_question(qid), "text", ""))
        except Exception:  # an answer to a question since removed from the bank
            return ""

    def question(self, question_id: str) -> QuestionPage:
        """Return a question with its rubric (what answers to it are graded on)."""
        library = self._library()
        try:
            found = library.find_question(question_id)
            rubric = library.rubric_for(question_id)
        except Exception:
            raise NotFound(f"There is no question {question_id!r}.") from None
        return QuestionPage(
            question_id=str(getattr(found, "id", question_id)),
            text=str(getattr(found, "text", "")),
            rubric=tuple(rubric),
            tests=getattr(found, "tests", None),
        )


def _graded(row: Any) -> GradedAnswer:
    """Return an answer row (with its grade's columns, None when ungraded) as shown."""
    graded = row.score is not None or row.grader is not None
    points = tuple(
        PointVerdict(
            rubric=str(p.get("rubric", "")),
            verdict=str(p.get("verdict", "")),
            evidence=str(p.get("evidence", "") or ""),
            comment=str(p.get("comment", "") or ""),
        )
        for p in (row.points or [])
        if isinstance(p, dict)
    )
    return GradedAnswer(
        answer_id=row.id or 0,
        question_id=row.question_id,
        created_at=row.created_at,
        status=row.status,
        text=row.text,
        score=row.score,
        grader=row.grader,
        feedback=(row.feedback or "") if graded else "",
        points=points,
    )


def _mock_entry(row: Any, member_id: int) -> MockEntry:
    role = "interviewer" if row.interviewer_id == member_id else "candidate"
    partner = row.candidate_name if role == "interviewer" else row.interviewer_name
    card = (row.scorecard or {}).get("interviewer") or {}
    ratings = card.get("ratings") or {}
    return MockEntry(
        room_id=row.id or 0,
        kind=row.kind,
        role=role,
        partner=partner or "—",
        finished_at=row.finished_at,
        ratings=tuple((str(k), str(v)) for k, v in ratings.items()),
        red_flags=tuple(str(f) for f in card.get("red_flags") or ()),
        green_flags=tuple(str(f) for f in card.get("green_flags") or ()),
        comment=str(card.get("comment") or ""),
    )


def _submission_entry(row: Any) -> SubmissionEntry:
    result = row.result or {}
    return SubmissionEntry(
        submission_id=row.id or 0,
        drill_id=row.drill_id,
        device_kind=row.device_kind,
        status=row.status,
        verdict=row.verdict,
        time_s=row.time_s,
        speedup=row.speedup,
        created_at=row.created_at,
        message=str(result.get("message") or row.last_error or ""),
    )
