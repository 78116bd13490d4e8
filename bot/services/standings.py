"""Standings: leaderboards, a member's stats, streak settings; all read from the points ledger.

The API the faces and the web dashboard use:

- `StandingsService.leaderboard(actor or cohort_id, period, metric, page) -> Board`
- `StandingsService.member_stats(actor, member) -> MemberStats` (or `member_stats_of(id)`)
- `bot.services.charts.stats_png(stats)` / `stats_svg(stats)` draw a `MemberStats`.

Every method opens one short read (or one write), with no transaction held afterwards.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.domain import leaderboards as rules
from bot.domain import streaks
from bot.domain.timezones import validate_timezone
from bot.errors import InvalidInput, NotAllowed, NotFound
from bot.messages import Message, Publisher, PublishError
from bot.services.context import Actor
from bot.store import cohorts as cohort_repo
from bot.store import points as points_store
from bot.store import standings as repo
from bot.store.models import Cohort

if TYPE_CHECKING:
    from content import Library

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BoardRow:
    """One line of a leaderboard."""

    rank: int
    member_id: int
    name: str
    value: int
    achieved_at: datetime | None


@dataclass(frozen=True)
class RankedTop:
    """A board's first rows with their names, how many are ranked, and the day it starts.

    `places` holds every member's place only when the board was ranked in Python (streaks,
    which depend on today); the count boards are ranked in SQL and asked member by member.
    """

    rows: tuple[tuple[rules.Ranked, str], ...]
    total: int
    since: date | None
    places: Mapping[int, rules.Ranked] | None = None


@dataclass(frozen=True)
class Board:
    """One page of a cohort's leaderboard, and the caller's own line wherever it is."""

    cohort_id: int
    cohort_name: str
    period: str  # week/month/all
    metric: str  # points/streak/mocks/drills
    page: int
    pages: int
    total: int  # members on the board
    rows: tuple[BoardRow, ...]
    me: BoardRow | None = None
    since: date | None = None

    @property
    def me_on_page(self) -> bool:
        """Tell whether the caller's line is among the page's rows."""
        return self.me is not None and any(r.member_id == self.me.member_id for r in self.rows)


@dataclass(frozen=True)
class SectionStat:
    """Coverage and average best score of one bank section (E.1 to E.13)."""

    code: str
    title: str
    answered: int
    total: int
    average: float | None  # mean of the best score per answered question

    @property
    def coverage(self) -> float:
        """Return the share of the section's questions answered."""
        return self.answered / self.total if self.total else 0.0


@dataclass(frozen=True)
class DayActivity:
    """What a member earned on one of their local days."""

    day: date
    points: int
    answers: int
    mocks: int
    drills: int


@dataclass(frozen=True)
class MemberStats:
    """Everything a member's stats show: totals, streak, days, sections."""

    member_id: int
    name: str
    cohort_id: int
    cohort_name: str
    timezone: str
    today: date
    points: int
    rank: int | None  # all-time points rank in the cohort
    members_ranked: int
    mocks: int
    drills: int
    streak: streaks.StreakToday
    days: tuple[DayActivity, ...]
    sections: tuple[SectionStat, ...]

    def summary(self) -> str:
        """Return the short text that goes with the chart (and stands in for it)."""
        covered = sum(s.answered for s in self.sections)
        total = sum(s.total for s in self.sections)
        rank = f"#{self.rank} of {self.members_ranked}" if self.rank else "not ranked yet"
        best = max(self.sections, key=lambda s: s.coverage, default=None)
        strongest = (
            f" Most covered: {best.code} ({best.coverage:.0%})." if best and best.answered else ""
        )
        return (
            f"{self.name}: {self.points} points ({rank}). "
            f"Streak {self.streak.current} day(s), longest {self.streak.longest}, "
            f"{self.streak.freezes} freeze(s) held. "
            f"{covered} of {total} bank questions answered.{strongest} "
            f"Mocks: {self.mocks}. Drills passed: {self.drills}."
        )


class StandingsService:
    """Leaderboards, stats and streak settings of cohorts."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, library: Library
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._library = library
        self._sections: dict[str, int | None] = {}
        self._bank_ids: dict[str, str | None] = {}
        self._section_totals: dict[int, int] = {}
        for q in library.questions.values():
            self._section_totals[q.section] = self._section_totals.get(q.section, 0) + 1

    # --- leaderboards -------------------------------------------------------------------------

    async def leaderboard(
        self,
        actor: Actor | None = None,
        *,
        cohort_id: int | None = None,
        period: str = "week",
        metric: str = "points",
        page: int = 1,
        page_size: int = rules.PAGE_SIZE,
    ) -> Board:
        """Return one page of a cohort's board (the actor's cohort, or `cohort_id`)."""
        try:
            period = rules.check_choice(period, rules.PERIODS, "period")
            metric = rules.check_choice(metric, rules.METRICS, "metric")
        except ValueError as exc:
            raise InvalidInput(str(exc).capitalize() + ".") from None
        if page < 1:
            raise InvalidInput(f"Page {page} does not exist; pages start at 1.")
        async with self._sessions() as session:
            cohort, me_id = await self._cohort_of(session, actor, cohort_id)
            assert cohort.id is not None
            today = self._clock.now().astimezone(ZoneInfo(cohort.timezone)).date()
            since = rules.period_start(period, today)
            ranked = await self._ranked(session, cohort.id, metric, since, today)
            pages = rules.page_count(len(ranked), page_size)
            if page > pages:
                raise InvalidInput(f"Page {page} is past the end: this board has {pages} page(s).")
            shown = ranked[(page - 1) * page_size : page * page_size]
            mine = next((r for r in ranked if r.member_id == me_id), None)
            wanted = [r.member_id for r in shown] + ([mine.member_id] if mine else [])
            names = await repo.member_names(session, member_ids=wanted)
        rows = tuple(self._row(r, names) for r in shown)
        return Board(
            cohort_id=cohort.id,
            cohort_name=cohort.name,
            period=period,
            metric=metric,
            page=page,
            pages=pages,
            total=len(ranked),
            rows=rows,
            me=self._row(mine, names) if mine else None,
            since=since,
        )

    async def ranked_board(
        self, *, cohort_id: int, period: str, metric: str, today: date
    ) -> tuple[list[rules.Ranked], date | None]:
        """Return a whole board ranked, without names, and the day its period starts."""
        since = rules.period_start(period, today)
        async with self._sessions() as session:
            return await self._ranked(session, cohort_id, metric, since, today), since

    async def board_top(
        self, *, cohort_id: int, period: str, metric: str, today: date, limit: int
    ) -> RankedTop:
        """Return a board's first `limit` rows, named, and how many members it ranks.

        Points, mocks and drills are ranked by the database in one statement; only a streak
        board (today's streak of each stored run) is ranked here, in a worker thread, so the
        event loop serving other requests is not held while ten thousand runs are sorted.
        """
        since = rules.period_start(period, today)
        async with self._sessions() as session:
            if metric != "streak":
                rows, total = await repo.ranked_top(
                    session, cohort_id=cohort_id, metric=metric, since=since, limit=limit
                )
                top = tuple((rules.Ranked(r, m, v, at), name) for r, m, name, v, at in rows)
                return RankedTop(top, total, since)
            stored = await repo.cohort_streaks(session, cohort_id=cohort_id)
            ranked = await asyncio.to_thread(_rank_streaks, stored, since, today)
            names = await repo.member_names(
                session, member_ids=[r.member_id for r in ranked[:limit]]
            )
        top = tuple(
            (r, names.get(r.member_id, (f"member {r.member_id}", None))[0]) for r in ranked[:limit]
        )
        return RankedTop(top, len(ranked), since, {r.member_id: r for r in ranked})

    async def place_on_board(
        self, *, cohort_id: int, period: str, metric: str, today: date, member_id: int
    ) -> rules.Ranked | None:
        """Return a member's place on a points, mocks or drills board; None when not on it."""
        since = rules.period_start(period, today)
        async with self._sessions() as session:
            found = await repo.ranked_place(
                session, cohort_id=cohort_id, metric=metric, since=since, member_id=member_id
            )
        return rules.Ranked(found[0], member_id, found[1], found[2]) if found else None

    async def _ranked(
        self, session: AsyncSession, cohort_id: int, metric: str, since: date | None, today: date
    ) -> list[rules.Ranked]:
        if metric == "streak":
            return _rank_streaks(
                await repo.cohort_streaks(session, cohort_id=cohort_id), since, today
            )
        if since is None:
            return rules.rank(
                await repo.totals_all_time(session, cohort_id=cohort_id, metric=metric)
            )
        return rules.rank(
            await repo.totals_since(session, cohort_id=cohort_id, metric=metric, since=since)
        )

    @staticmethod
    def _row(r: rules.Ranked, names: dict[int, tuple[str, str | None]]) -> BoardRow:
        name = names.get(r.member_id, (f"member {r.member_id}", None))[0]
        return BoardRow(r.rank, r.member_id, name, r.value, r.achieved_at)

    # --- stats --------------------------------------------------------------------------------

    async def member_stats(self, actor: Actor, member: str | None = None) -> MemberStats:
        """Return the stats of the caller, or of another member of the caller's cohort."""
        async with self._sessions() as session:
            cohort, me_id = await self._cohort_of(session, actor, None)
            assert cohort.id is not None
            if not member:
                if me_id is None:
                    raise NotFound("You have no stats here yet.", hint="Join with /cohort join.")
                target = me_id
            else:
                target = await self._resolve_member(session, cohort, member)
        return await self.member_stats_of(target)

    async def member_stats_of(self, member_id: int) -> MemberStats:
        """Return a member's stats by id (the dashboard and the command line use this)."""
        async with self._sessions() as session:
            found = await repo.member_stats_row(session, member_id=member_id)
        if found is None:
            raise NotFound(f"No member #{member_id}.")
        today = self._clock.now().astimezone(ZoneInfo(found.zone)).date()
        standing = found.standing
        # The row has the standing's streak columns by their names.
        stored = points_store.stored_streak(standing) if standing is not None else streaks.Streak()
        return MemberStats(
            member_id=member_id,
            name=found.name,
            cohort_id=found.cohort_id,
            cohort_name=found.cohort_name,
            timezone=found.zone,
            today=today,
            points=standing.points if standing is not None else 0,
            rank=found.rank,
            members_ranked=found.members_ranked,
            mocks=standing.mocks if standing is not None else 0,
            drills=standing.drills if standing is not None else 0,
            streak=streaks.on_day(stored, today),
            days=tuple(
                DayActivity(d.day, d.points, d.answers, d.mocks, d.drills) for d in found.days
            ),
            sections=self._section_stats(found.scores),
        )

    def section_of(self, qid: str) -> int | None:
        """Return the bank section (1..13) a question belongs to, through its bank link."""
        if qid not in self._sections:
            try:
                found = self._library.find_question(qid)
            except Exception:  # a question the content no longer knows
                self._sections[qid] = None
            else:
                section = getattr(found, "section", None)
                if section is None:
                    bank = getattr(found, "bank", None)
                    section = getattr(bank, "section", None)
                self._sections[qid] = int(section) if section is not None else None
        return self._sections[qid]

    def bank_id_of(self, qid: str) -> str | None:
        """Return the bank question a question id is (or is linked to)."""
        if qid not in self._bank_ids:
            try:
                found = self._library.find_question(qid)
            except Exception:
                self._bank_ids[qid] = None
            else:
                bank = getattr(found, "bank", None)
                self._bank_ids[qid] = (
                    str(bank.id) if bank is not None else str(getattr(found, "id", qid))
                )
        return self._bank_ids[qid]

    def _section_stats(self, scores: list[tuple[str, float]]) -> tuple[SectionStat, ...]:
        best: dict[str, float] = {}
        for qid, score in scores:
            bank = self.bank_id_of(qid)
            if bank is not None:
                best[bank] = max(score, best.get(bank, 0.0))
        totals = self._section_totals
        out = []
        for section in self._library.sections:
            mine = [s for qid, s in best.items() if self.section_of(qid) == section.number]
            out.append(
                SectionStat(
                    code=section.code,
                    title=section.title,
                    answered=len(mine),
                    total=totals.get(section.number, 0),
                    average=sum(mine) / len(mine) if mine else None,
                )
            )
        return tuple(out)

    # --- settings -----------------------------------------------------------------------------

    async def set_reminder(self, actor: Actor, hour: int | None) -> int:
        """Opt in to (or out of, with None) a streak reminder at a local hour; return cohorts."""
        if hour is not None:
            try:
                streaks.check_remind_hour(hour)
            except ValueError as exc:
                raise InvalidInput(str(exc).capitalize() + ".") from None
        async with self._sessions() as session:
            members = await cohort_repo.members_of_user(
                session, platform=actor.platform, platform_user_id=actor.user_id
            )
            if not members:
                raise NotFound("You are not in a cohort yet.", hint="Join with /cohort join.")
            for m in members:
                assert m.id is not None
                await points_store.set_remind_hour(
                    session, member_id=m.id, cohort_id=m.cohort_id, hour=hour
                )
            await session.commit()
        return len(members)

    # --- helpers ------------------------------------------------------------------------------

    async def _cohort_of(
        self, session: AsyncSession, actor: Actor | None, cohort_id: int | None
    ) -> tuple[Cohort, int | None]:
        """Return the cohort asked about and the caller's member id in it (if a member)."""
        if cohort_id is None and actor is not None:
            cohort, me_id = await repo.cohort_and_member_in(
                session, channel=actor.channel, platform_user_id=actor.user_id
            )
            if cohort is None or cohort.id is None:
                raise NotFound(
                    "There is no cohort in this channel.",
                    hint="An admin can start one: /cohort setup",
                )
            return cohort, me_id
        cohort = await cohort_repo.get_cohort(session, cohort_id=cohort_id) if cohort_id else None
        if cohort is None or cohort.id is None:
            raise NotFound(
                "There is no cohort in this channel.", hint="An admin can start one: /cohort setup"
            )
        me_id = None
        if actor is not None:
            me = await cohort_repo.get_member(
                session, cohort_id=cohort.id, platform_user_id=actor.user_id
            )
            me_id = me.id if me is not None else None
        return cohort, me_id

    async def _resolve_member(self, session: AsyncSession, cohort: Cohort, reference: str) -> int:
        ref = reference.strip()
        if ref.startswith("<@") and ref.endswith(">"):
            ref = ref[2:-1].lstrip("!").split("|", 1)[0]
        ref = ref.lstrip("@")
        here = await repo.find_member(session, cohort_id=cohort.id, reference=ref)
        if here:
            assert here[0].id is not None
            return here[0].id
        if await repo.find_member(session, cohort_id=None, reference=ref):
            raise NotAllowed(f"{ref} is not in this cohort; stats are shown within a cohort only.")
        raise NotFound(f"No member {ref} in this cohort.")


def _rank_streaks(
    stored: list[tuple[int, streaks.Streak, datetime | None]], since: date | None, today: date
) -> list[rules.Ranked]:
    """Rank members by today's streak (a week's board) or their longest (all time)."""
    rows = []
    for member_id, run, reached in stored:
        now = streaks.on_day(run, today)
        rows.append((member_id, now.longest if since is None else now.current, reached))
    return rules.rank(rows)


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def board_json(board: Board) -> dict[str, Any]:
    """Return a board as JSON-ready data (the command line and the dashboard)."""
    return {**_plain(asdict(board)), "me_on_page": board.me_on_page}


def stats_json(stats: MemberStats) -> dict[str, Any]:
    """Return a member's stats as JSON-ready data, with the summary text."""
    return {**_plain(asdict(stats)), "summary": stats.summary()}


def check_zone(name: str) -> str:
    """Return a valid IANA zone name, or raise InvalidInput in one sentence."""
    try:
        return validate_timezone(name.strip())
    except ValueError as exc:
        raise InvalidInput(str(exc).capitalize() + ".") from None


class StreakReminders:
    """DM opted-in members at their local hour when today's streak is at risk; once a day."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        publishers: Mapping[str, Publisher],
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._publishers = publishers

    async def send_due(self) -> int:
        """Send the reminders due now; return how many went out."""
        now = self._clock.now()
        sent = 0
        async with self._sessions() as session:
            candidates = await repo.reminder_candidates(session)
        for standing, member, cohort in candidates:
            zone = member.timezone or cohort.timezone
            streak = points_store.stored_streak(standing)
            if not streaks.reminder_due(
                streak,
                now=now,
                tz=zone,
                hour=standing.remind_hour,
                reminded_on=standing.reminded_on,
            ):
                continue
            publisher = self._publishers.get(cohort.platform)
            if publisher is None:
                continue
            today = now.astimezone(ZoneInfo(zone)).date()
            async with self._sessions() as session:
                won = await repo.mark_reminded(session, member_id=member.id or 0, day=today)
                await session.commit()
            if not won:
                continue  # another process reminded them
            current = streaks.on_day(streak, today).current
            try:
                await publisher.send_dm(
                    member.platform_user_id,
                    Message(
                        text=f"Your {current}-day streak is at risk today: answer a question, "
                        "pass a drill or do a mock to keep it (see /today). "
                        "Stop these with /me remind off.",
                        tone="warning",
                    ),
                )
                sent += 1
            except PublishError as exc:
                log.warning("streak reminder to member %s not sent: %s", member.id, exc)
        return sent
