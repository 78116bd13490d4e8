"""Solo mocks: StudyBot takes the interviewer's seat when no partner is free.

A solo mock is a mock room like any other (the same pacing timer, phases, scorecard and
history) whose interviewer is StudyBot: `mock_room.interviewer_id` is empty. The conversation
lives in `mock_turn`, one row per line, unique per (room, key), so a restarted bot resumes it
and nothing is said twice:

- `p:<phase>` the interviewer's phase prompt, recorded in the same step as the timer's phase
  announcement (one fenced claim covers both);
- `c:<n>` the candidate's n-th line (`/mock say`), stored before the interviewer is asked;
- `r:<n>` the interviewer's reply to it, from the engine (`graders.interviewer`), asked with no
  transaction open. A candidate line left unanswered by a crash is answered on recovery.

At the end the interviewer fills in the guide's scorecard from the transcript, the candidate
gets it privately and their points; the candidate may rate the interviewer (`/mock rate`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.matching import pick_scenario
from bot.domain.pacing import Announcement, AnnouncementKind, interview_minutes, phase_at
from bot.domain.scorecards import POINTS_PER_ROLE
from bot.errors import Conflict, InvalidInput, NotAllowed, NotFound, Unavailable
from bot.messages import Channel, Message, MessageField, PublishError
from bot.services.context import Actor
from bot.services.mocks import GUIDE_SCENARIO, MockService, RoomView, Scenario, timeline_of
from bot.store import answers as points_repo
from bot.store import cohorts as cohort_repo
from bot.store import mocks as repo
from bot.store.models import Member, MockRoom, MockTurn

if TYPE_CHECKING:
    from graders.budget import TokenBudget
    from graders.embeddings import Embedder
    from graders.interviewer import GuardedInterviewer, GuideBrief, ScenarioBrief, Turn

log = logging.getLogger(__name__)

MAX_LINE_CHARS = 2000
LEVEL_OF_RATING = {"no hire": "not-yet", "hire": "good", "strong hire": "great"}
SOLO_INTERVIEWER = "StudyBot"


@dataclass(frozen=True)
class SoloLine:
    """What the interviewer answered a candidate's line."""

    room_id: int
    text: str
    engine: str
    phase: str
    minute: float


class SoloMocks:
    """Solo mock use cases, beside the mock service whose rooms and timer they share."""

    def __init__(
        self,
        mocks: MockService,
        engine: GuardedInterviewer,
        embedder: Embedder,
        *,
        token_cap: int = 30_000,
        budget: TokenBudget | None = None,
    ) -> None:
        from graders.interviewer import from_guide

        self.mocks = mocks
        self.engine = engine
        self.embedder = embedder
        self.token_cap = token_cap
        self.budget = budget
        self.guide: GuideBrief = from_guide(mocks.library.guide)
        mocks.solo = self  # the timer asks for phase prompts and the scorecard at the end

    # --- helpers -----------------------------------------------------------------------------

    @property
    def _sessions(self) -> Any:
        return self.mocks.sessions

    def brief(self, scenario: Scenario | None) -> ScenarioBrief:
        """Return the engines' view of a room's scenario."""
        from graders.interviewer import scenario_brief

        chosen = scenario or self.mocks.scenario(GUIDE_SCENARIO)
        assert chosen is not None
        # The guide's scenario text lists its design's components: the candidate must find
        # them, so the interviewer states only the problem (the part before the list).
        text = chosen.text.split(":", 1)[0] + "." if chosen.full_brief else chosen.text
        return scenario_brief(
            self.guide,
            scenario_id=chosen.id,
            title=chosen.title,
            text=text,
            rubric=chosen.rubric,
            full_brief=chosen.full_brief,
        )

    @staticmethod
    def as_turns(rows: Sequence[MockTurn]) -> tuple[Turn, ...]:
        """Return stored lines as the engines' turns."""
        from graders.interviewer import Turn

        return tuple(
            Turn(
                speaker="interviewer" if r.speaker == "interviewer" else "candidate",
                phase=r.phase,
                minute=r.minute,
                text=r.text,
                intent=r.intent,
                engine=r.engine,
                note=r.note,
            )
            for r in rows
        )

    # --- start ---------------------------------------------------------------------------------

    async def start(self, actor: Actor, scenario_text: str | None = None) -> RoomView:
        """Open a solo mock now, StudyBot interviewing, on a scenario (unseen ones first)."""
        now = self.mocks.clock.now()
        async with self._sessions.begin() as session:
            cohort, member = await self.mocks.cohort_member(session, actor)
            assert cohort.id is not None and member.id is not None
            if await repo.open_room_of_member(session, member_id=member.id) is not None:
                raise Conflict("You are in a mock room already; finish it with /mock end first.")
            scenario = await self._choose_scenario(session, member.id, scenario_text)
            entry = await repo.queue_entry(session, cohort_id=cohort.id, member_id=member.id)
            if entry is not None:  # the member took the offer: their place in the queue ends
                await repo.remove_queue_entries(session, entry_ids=[entry.id or 0])
            room = await repo.add_room(
                session,
                room=MockRoom(
                    cohort_id=cohort.id,
                    interviewer_id=None,
                    candidate_id=member.id,
                    status="matched",
                    kind="system-design",
                    scenario_id=scenario.id,
                    platform=cohort.platform,
                    workspace_id=cohort.workspace_id,
                    matched_at=now,
                    last_activity_at=now,
                    confirmed=[member.id],
                ),
            )
            room_id = room.id or 0
        try:
            await self.mocks.open_platform_room(room_id)
        except PublishError as exc:
            async with self._sessions.begin() as session:  # no room: nothing left half-open
                await repo.update_room(session, room_id=room_id, status="closed", finished_at=now)
            raise Unavailable(f"The private room could not be opened ({exc}); try again.") from exc
        now = self.mocks.clock.now()
        async with self._sessions.begin() as session:
            await repo.update_room(
                session,
                room_id=room_id,
                status="running",
                started_at=now,
                next_due_at=now,
                last_activity_at=now,
            )
            fresh = await repo.get_room(session, room_id=room_id)
            assert fresh is not None
            view = await self.mocks.view(session, fresh, now)
        self.mocks.changed.set()  # the timer announces Clarify (and the opening) at once
        # Encode what every reply is checked against now, off the conversation's path.
        brief = self.brief(scenario)
        await asyncio.to_thread(
            self.embedder.encode,
            [
                *self.guide.design_points,
                *(f.question for f in brief.facts),
                *(f.answer for f in brief.facts),
                brief.text,
                *(p.focus for p in self.guide.phases),
            ],
        )
        return view

    async def _choose_scenario(
        self, session: AsyncSession, member_id: int, text: str | None
    ) -> Scenario:
        scenarios = self.mocks.scenarios
        if text and text.strip():
            wanted = text.strip().lower()
            found = next((s for s in scenarios if s.id.lower() == wanted), None) or next(
                (s for s in scenarios if wanted in s.title.lower()), None
            )
            if found is None:
                raise InvalidInput(
                    f"No mock scenario {text.strip()!r}; give a scenario id such as "
                    f"{GUIDE_SCENARIO}, or nothing for one you have not had."
                )
            return found
        seen = [
            r.scenario_id
            for r in await repo.past_rooms(session, member_ids=[member_id], limit=200)
            if r.scenario_id
        ]
        picked = pick_scenario([s.id for s in scenarios], seen_by_a=seen, seen_by_b=())
        return self.mocks.scenario(picked) or scenarios[0]

    # --- the timer's part ----------------------------------------------------------------------

    def phase_line(self, room: MockRoom, announcement: Announcement) -> str | None:
        """Return the interviewer's prompt for a phase announcement of a solo room."""
        from graders.interviewer import phase_prompt

        if room.interviewer_id is not None or announcement.kind != AnnouncementKind.PHASE:
            return None
        scenario = self.brief(self.mocks.scenario(room.scenario_id))
        return phase_prompt(self.guide, scenario, announcement.phase.slug)

    async def record_phase_line(
        self, session: AsyncSession, room: MockRoom, announcement: Announcement, text: str
    ) -> None:
        """Record a phase prompt in the transcript (in the announcement's own step)."""
        await repo.add_turn(
            session,
            turn=MockTurn(
                room_id=room.id or 0,
                key=f"p:{announcement.phase.slug}",
                speaker="interviewer",
                phase=announcement.phase.slug,
                minute=_interview_min(room, self),
                text=text,
                intent="opening" if announcement.phase.slug == "clarify" else "phase-prompt",
                engine="scripted",
                created_at=self.mocks.clock.now(),
            ),
        )

    # --- the candidate speaks --------------------------------------------------------------------

    async def say(self, actor: Actor, text: str) -> SoloLine:
        """Store the candidate's line, then ask the interviewer (no transaction open)."""
        line = (text or "").strip()
        if not line:
            raise InvalidInput("Say something to the interviewer, e.g. /mock say What QPS?")
        if len(line) > MAX_LINE_CHARS:
            raise InvalidInput(f"Keep a line under {MAX_LINE_CHARS} characters; split it.")
        now = self.mocks.clock.now()
        async with self._sessions.begin() as session:
            room, _, _ = await self.mocks.my_room(session, actor)
            if room.interviewer_id is not None:
                raise Conflict("/mock say talks to StudyBot in a solo mock; talk to your partner.")
            if room.status == "paused":
                raise Conflict("The mock is paused; /mock resume restarts the clock first.")
            if room.status != "running":
                raise Conflict("This solo mock is not running; /mock solo starts a new one.")
            said = [t for t in await repo.turns(session, room_id=room.id or 0)]
            n = 1 + sum(1 for t in said if t.speaker == "candidate")
            timeline = timeline_of(room, self.mocks.phases)
            await repo.add_turn(
                session,
                turn=MockTurn(
                    room_id=room.id or 0,
                    key=f"c:{n}",
                    speaker="candidate",
                    phase=phase_at(timeline, now).phase.slug,
                    minute=round(interview_minutes(timeline, now), 2),
                    text=line,
                    created_at=now,
                ),
            )
            await repo.update_room(session, room_id=room.id or 0, last_activity_at=now)
        return await self.answer(room.id or 0, n)

    async def answer(self, room_id: int, n: int) -> SoloLine:
        """Answer the candidate's n-th line once (a second asker gets the stored answer)."""
        from graders.interviewer import Spend, TurnContext

        async with self._sessions() as session:
            room = await repo.get_room(session, room_id=room_id)
            assert room is not None
            rows = list(await repo.turns(session, room_id=room_id))
        done = next((r for r in rows if r.key == f"r:{n}"), None)
        if done is not None:
            return SoloLine(room_id, done.text, done.engine, done.phase, done.minute)
        now = self.mocks.clock.now()
        timeline = timeline_of(room, self.mocks.phases)
        phase = phase_at(timeline, now).phase.slug
        minute = round(interview_minutes(timeline, now), 2)
        upto = [r for r in rows if not (r.speaker == "candidate" and int(r.key[2:]) > n)]
        ctx = TurnContext(
            guide=self.guide,
            scenario=self.brief(self.mocks.scenario(room.scenario_id)),
            phase=phase,
            minute=minute,
            transcript=self.as_turns(upto),
        )
        spend = Spend(
            budget_key=f"cohort-{room.cohort_id}",
            used=sum(r.tokens for r in rows),
            cap=self.token_cap,
        )
        reply = await self.engine.reply(ctx, spend)
        async with self._sessions.begin() as session:
            await repo.add_turn(
                session,
                turn=MockTurn(
                    room_id=room_id,
                    key=f"r:{n}",
                    speaker="interviewer",
                    phase=phase,
                    minute=minute,
                    text=reply.text,
                    intent=reply.intent,
                    engine=reply.engine,
                    tokens=reply.tokens,
                    note=reply.note,
                    created_at=self.mocks.clock.now(),
                ),
            )
            stored = next(
                r for r in await repo.turns(session, room_id=room_id) if r.key == f"r:{n}"
            )
        if reply.note.startswith("replaced"):
            log.info("solo mock %s: model reply %s", room_id, reply.note)
        return SoloLine(room_id, stored.text, stored.engine, stored.phase, stored.minute)

    async def answer_pending(self) -> list[int]:
        """Answer candidate lines a crash left unanswered, and post the answers in the room."""
        answered: list[int] = []
        async with self._sessions() as session:
            rooms = await repo.solo_rooms(session, statuses=("running",))
            pending: list[tuple[MockRoom, int]] = []
            for room in rooms:
                keys = {t.key for t in await repo.turns(session, room_id=room.id or 0)}
                for key in sorted(k for k in keys if k.startswith("c:")):
                    n = int(key[2:])
                    if f"r:{n}" not in keys:
                        pending.append((room, n))
        for room, n in pending:
            line = await self.answer(room.id or 0, n)
            await self._post(room, Message(text=f"**{SOLO_INTERVIEWER}:** {line.text}"), f"r:{n}")
            answered.append(room.id or 0)
        return answered

    async def _post(self, room: MockRoom, message: Message, key: str) -> None:
        publisher = self.mocks.publishers.get(room.platform)
        if publisher is None or room.channel_id is None:
            return
        channel = Channel(room.platform, room.workspace_id, room.channel_id)  # type: ignore[arg-type]
        try:
            await publisher.post(channel, message, idempotency_key=f"mock:{room.id}:{key}")
        except PublishError as exc:
            log.warning("solo mock %s: not posted: %s", room.id, exc)

    # --- the end -------------------------------------------------------------------------------

    async def finish(self, room_id: int) -> dict[str, Any] | None:
        """Fill in the scorecard from the transcript, close the room, award points, DM it."""
        from graders.interviewer import score_transcript

        async with self._sessions() as session:
            room = await repo.get_room(session, room_id=room_id)
            if room is None or room.interviewer_id is not None or room.status != "scoring":
                return None
            rows = list(await repo.turns(session, room_id=room_id))
            bank = [(q.id, q.text) for q in self.mocks.library.questions.values()]
        card = await asyncio.to_thread(
            score_transcript, self.guide, self.as_turns(rows), self.embedder, bank=bank
        )
        data = card.as_json()
        now = self.mocks.clock.now()
        async with self._sessions.begin() as session:
            room = await repo.get_room(session, room_id=room_id, lock=True)
            if room is None or room.status != "scoring" or "interviewer" in room.scorecard:
                return None  # another process scored it first
            await repo.update_room(
                session,
                room_id=room_id,
                status="closed",
                finished_at=now,
                last_activity_at=now,
                scorecard={
                    **room.scorecard,
                    "interviewer": {
                        "ratings": {
                            a["aspect"]: LEVEL_OF_RATING[a["rating"]] for a in data["aspects"]
                        },
                        "red_flags": data["flags"]["red"],
                        "green_flags": data["flags"]["green"],
                        "comment": "",
                        "by": SOLO_INTERVIEWER,
                    },
                    "solo": data,
                },
            )
            cohort = await cohort_repo.get_cohort(session, cohort_id=room.cohort_id)
            assert cohort is not None and room.candidate_id is not None
            await points_repo.award_points(
                session,
                cohort_id=room.cohort_id,
                member_id=room.candidate_id,
                kind="mock",
                ref=f"mock:{room_id}:candidate",
                points=POINTS_PER_ROLE["candidate"],
                local_day=now.astimezone(ZoneInfo(cohort.timezone)).date(),
            )
            candidate = await session.get(Member, room.candidate_id)
        message = scorecard_message(data)
        publisher = self.mocks.publishers.get(room.platform)
        if publisher is not None and candidate is not None:
            try:
                await publisher.send_dm(candidate.platform_user_id, message)
            except PublishError as exc:
                log.warning("solo mock %s: scorecard DM not delivered: %s", room_id, exc)
        await self._post(
            room,
            Message(
                text="The scorecard is in your DMs. Rate me with /mock rate 1-5 (and a comment)."
            ),
            "scorecard",
        )
        await self.mocks.close_platform_room(room)
        return data

    async def finish_pending(self) -> list[int]:
        """Score solo rooms whose end passed while no process could score them."""
        async with self._sessions() as session:
            rooms = await repo.solo_rooms(session, statuses=("scoring",))
        done = []
        for room in rooms:
            if await self.finish(room.id or 0) is not None:
                done.append(room.id or 0)
        return done

    async def rate_interviewer(self, actor: Actor, stars_text: str, comment: str = "") -> str:
        """Keep the candidate's rating of the solo interviewer (to improve its prompts)."""
        try:
            stars = int(str(stars_text).strip())
        except ValueError:
            raise InvalidInput(
                f"Rate the interviewer 1 to 5, e.g. /mock rate 4; got {stars_text!r}."
            ) from None
        if not 1 <= stars <= 5:
            raise InvalidInput("Rate the interviewer 1 to 5, e.g. /mock rate 4.")
        async with self._sessions.begin() as session:
            room, _, _ = await self.mocks.my_room(session, actor)
            if room.interviewer_id is not None:
                raise NotAllowed("Only a solo mock's interviewer (StudyBot) is rated here.")
            if room.status != "closed":
                raise Conflict("Rate the interviewer once the mock is over.")
            engines = sorted(
                {t.engine for t in await repo.turns(session, room_id=room.id or 0)} - {""}
            )
            await repo.update_room(
                session,
                room_id=room.id or 0,
                scorecard={
                    **room.scorecard,
                    "interviewer_rating": {
                        "stars": stars,
                        "comment": comment.strip()[:1000],
                        "engines": engines,
                    },
                },
            )
        return f"Thanks: interviewer rated {stars}/5."

    async def transcript(self, room_id: int) -> list[MockTurn]:
        """Return a solo mock's conversation."""
        async with self._sessions() as session:
            return list(await repo.turns(session, room_id=room_id))

    async def room_of(self, actor: Actor) -> int:
        """Return the solo room this member is in (open), or explain."""
        async with self._sessions() as session:
            _, member = await self.mocks.cohort_member(session, actor)
            room = await repo.open_room_of_member(session, member_id=member.id or 0)
        if room is None or room.interviewer_id is not None:
            raise NotFound("You have no solo mock open; /mock solo starts one.")
        return room.id or 0


def _interview_min(room: MockRoom, solo: SoloMocks) -> float:
    if room.started_at is None:
        return 0.0
    timeline = timeline_of(room, solo.mocks.phases)
    return round(interview_minutes(timeline, solo.mocks.clock.now()), 2)


def scorecard_message(data: dict[str, Any]) -> Message:
    """Return the solo scorecard as a message: ratings with evidence, flags, what to practise."""
    fields = []
    for a in data["aspects"]:
        quotes = "\n".join(f"> {q}" for q in a["evidence"]) or "(nothing said on it)"
        fields.append(MessageField(f"{a['aspect']}: {a['rating']}", quotes))
    if data["flags"]["green"]:
        fields.append(MessageField("Green flags", "\n".join(data["flags"]["green"])))
    if data["flags"]["red"]:
        fields.append(MessageField("Red flags", "\n".join(data["flags"]["red"])))
    if data.get("practise"):
        fields.append(
            MessageField(
                "Practise next",
                "\n".join(
                    f"• {p['advice']} Try {p['question_id']}: {p['question']}"
                    for p in data["practise"]
                ),
            )
        )
    return Message(header="Your solo mock scorecard", fields=tuple(fields))
