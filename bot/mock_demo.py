"""`studybot mock demo`: a whole mock on a fast clock, run by real bot processes.

The demo sets up a throwaway SQLite database with a cohort, two simulated members and their
room, then starts a bot process (`python -m bot.mock_demo --worker`) that runs nothing but the
mock timer. The two members' commands (start, pause, resume) are typed by this process on the
same database. `--restart-at` kills the bot process with SIGKILL at that minute and hands over
to a second bot process, which re-arms the room from the database. The second process is
started beforehand and waits: loading Python takes longer than a minute of a fast clock.

Every process reads the same clock: fast time = start + (wall time - anchor) x speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.messages import Platform

if TYPE_CHECKING:
    from bot.app import StudyBot
    from bot.domain.claims import ClaimPolicy
    from bot.services.context import Actor

DEMO_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
INTERVIEWER = ("U-ada", "Ada")
CANDIDATE = ("U-bob", "Bob")


class AnchoredClock:
    """A fast clock shared by several processes: anchored to one wall-clock instant."""

    def __init__(self, start: datetime, anchor: float, speed: float) -> None:
        self._start = start
        self._anchor = anchor
        self.speed = speed

    def now(self) -> datetime:
        """Return the fast time."""
        return self._start + timedelta(seconds=(time.time() - self._anchor) * self.speed)

    async def sleep(self, seconds: float) -> None:
        """Sleep this many fast seconds."""
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    def minutes(self) -> float:
        """Return the fast minutes since the start."""
        return (self.now() - self._start).total_seconds() / 60


class QuietPublisher:
    """The demo's room: it keeps nothing and says nothing (the timeline is in the database)."""

    platform: Platform = "console"

    def __init__(self) -> None:
        self._n = 0

    async def post(self, channel: Any, message: Any, *, idempotency_key: str) -> Any:
        """Accept a post."""
        from bot.messages import SentMessage

        self._n += 1
        return SentMessage(f"m{self._n}", channel.channel_id)

    async def find_posted(self, channel: Any, idempotency_key: str) -> Any:
        """Find nothing: the demo's room has no history."""
        return None

    async def reply_in_thread(self, channel: Any, thread_id: str, message: Any) -> Any:
        """Accept a reply."""
        return await self.post(channel, message, idempotency_key="")

    async def send_dm(
        self, user_id: str, message: Any, *, idempotency_key: str | None = None
    ) -> Any:
        """Accept a private message."""
        from bot.messages import SentMessage

        return SentMessage("dm", user_id)

    async def find_dm(self, user_id: str, idempotency_key: str) -> Any:
        """Find nothing: the demo keeps no private messages."""
        return None

    async def edit(self, sent: Any, message: Any) -> None:
        """Accept an edit."""

    async def withdraw(self, sent: Any) -> None:
        """Accept a withdrawal."""


# The real seconds a fence check may take before it covers no send: several database round
# trips on a busy machine.
DEMO_SEND_WINDOW_S = 0.025
# Real seconds the demo waits, beyond 90 fast minutes, for its bot process to end the mock.
DEMO_GRACE_S = 30.0


def demo_policy(speed: float | None) -> ClaimPolicy:
    """Return the demo's claim rules, in fast seconds, on a clock `speed` times fast.

    A lease of 60 fast seconds frees a killed holder's claim within a fraction of a real
    second. The send window (one heartbeat interval here) is kept at DEMO_SEND_WINDOW_S of
    real time at least: at 6000x the 5 fast seconds it would otherwise be are under 1 ms, less
    than one fence check, and no announcement could ever be sent.
    """
    from bot.domain.claims import ClaimPolicy

    interval = max(5.0, DEMO_SEND_WINDOW_S * (speed or 1.0))
    return ClaimPolicy(lease_s=max(60.0, 4 * interval), heartbeat_interval_s=interval)


def _service(
    sessions: Any, clock: Any, holder: str, publishers: Any = None, speed: float | None = None
) -> Any:
    from bot.services.mocks import MockService
    from content import load_library

    return MockService(
        sessions,
        load_library(),
        clock,
        publishers if publishers is not None else {"console": QuietPublisher()},
        holder=holder,
        policy=demo_policy(speed),
    )


async def _worker(url: str, holder: str, speed: float, *, slack: bool = False) -> None:
    """Run one bot process's mock timer until the room is over (or the process is killed).

    With `slack` the Slack rooms' announcements go through the real Slack publisher to the Web
    API the Slack settings name (the crash proof's mock Slack), not to the demo's quiet room.
    """
    from bot.services.mocks import MockTimers
    from bot.store.engine import make_engine, make_session_factory
    from bot.store.mocks import open_rooms
    from content import load_library

    load_library()  # loaded (and cached) before saying ready: the slow part of a start
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    async with sessions() as session:  # connected before saying ready, too
        await open_rooms(session)
    publishers: dict[str, Any] = {"console": QuietPublisher()}
    slack_publisher: Any = None
    if slack:
        from slack_sdk.web.async_client import AsyncWebClient

        from bot.platforms.slack_app import SlackPublisher
        from bot.settings import SlackSettings

        settings = SlackSettings()
        client = AsyncWebClient(
            token=settings.bot_token, base_url=settings.api_base_url or "", retry_handlers=[]
        )
        slack_publisher = SlackPublisher(client, channel_interval_s=0)
        publishers["slack"] = slack_publisher
        await client.auth_test()  # the Web API client warmed up before saying ready
    print("ready", flush=True)
    anchor = float(await asyncio.to_thread(sys.stdin.readline))
    clock = AnchoredClock(DEMO_START, anchor, speed)
    service = _service(sessions, clock, holder, publishers, speed)
    timers = MockTimers(service, clock, tick_s=5.0)
    task = asyncio.create_task(timers.run())
    try:
        while True:
            await asyncio.sleep(0.02)
            async with sessions() as session:
                rooms = await open_rooms(session)
            if not any(r.status in ("running", "paused") for r in rooms):
                break
            if task.done():
                task.result()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if slack_publisher is not None:
            await slack_publisher.aclose()
        await engine.dispose()


def _spawn(
    url: str, holder: str, speed: float, slack: tuple[str, str] | None = None
) -> subprocess.Popen[str]:
    # The token goes by the environment (the Slack settings), never on a command line.
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    option = []
    if slack is not None:
        option = ["--slack"]
        env["SLACK_API_BASE_URL"], env["SLACK_BOT_TOKEN"] = slack
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.mock_demo", "--worker", url, holder, str(speed), *option],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"bot process {holder} did not start")
    return proc


def _go(proc: subprocess.Popen[str], anchor: float) -> None:
    assert proc.stdin is not None
    proc.stdin.write(f"{anchor}\n")
    proc.stdin.flush()


async def _set_up(url: str) -> tuple[Any, Any, int]:
    """Create the cohort, the two members and their room; return the engine, sessions, room."""
    from bot.clock import FakeClock
    from bot.services.cohorts import CohortService
    from bot.services.context import Actor
    from bot.store.engine import make_engine, make_session_factory
    from bot.store.migrate import upgrade_async

    engine = make_engine(url)
    await upgrade_async(engine)
    sessions = make_session_factory(engine)
    clock = FakeClock(DEMO_START - timedelta(minutes=5))
    cohorts = CohortService(sessions, clock)
    admin = Actor("console", "demo", "cohort", "U-admin", "Admin", is_workspace_admin=True)
    await cohorts.setup(admin, name="Demo")
    service = _service(sessions, clock, "demo")
    for user, name in (INTERVIEWER, CANDIDATE):
        actor = Actor("console", "demo", "cohort", user, name)
        await cohorts.join(actor)
        view = await service.join(actor)
    assert view.room is not None
    return engine, sessions, view.room.room_id


def _room_actor(user: tuple[str, str], room_id: int) -> Any:
    from bot.services.context import Actor

    return Actor("console", "demo", f"mock-{room_id}", user[0], user[1])


async def _timeline(sessions: Any, room_id: int) -> list[dict[str, Any]]:
    from bot.store.mocks import announcements

    async with sessions() as session:
        made = await announcements(session, room_id=room_id)
    out = []
    # A warning still unsaid when its phase ended is dropped (recorded, never said late): its
    # row's times are when it was dropped.
    for a in made:
        out.append(
            {
                "kind": a.kind,
                "phase": a.phase,
                "status": a.status,
                "due_min": round((a.due_at - DEMO_START).total_seconds() / 60, 2),
                "sent_min": round((a.sent_at - DEMO_START).total_seconds() / 60, 2),
                "process": a.holder,
            }
        )
    return sorted(out, key=lambda e: (e["due_min"], e["sent_min"]))


async def run_demo(
    *,
    speed: float,
    pause_at: float | None,
    resume_at: float | None,
    restart_at: float | None,
    workdir: Path,
) -> list[dict[str, Any]]:
    """Run the whole mock and return its timeline, one entry per announcement."""
    from bot.clock import FakeClock
    from bot.errors import Unavailable

    url = f"sqlite+aiosqlite:///{workdir / 'mock-demo.db'}"
    engine, sessions, room_id = await _set_up(url)
    first = await asyncio.to_thread(_spawn, url, "bot-1", speed)
    second = await asyncio.to_thread(_spawn, url, "bot-2", speed) if restart_at else None
    try:
        anchor = time.time()
        clock = AnchoredClock(DEMO_START, anchor, speed)
        # The members act exactly on their minute: their commands carry that minute's time.
        at_minute = FakeClock(DEMO_START)
        members = _service(sessions, at_minute, "members")
        interviewer = _room_actor(INTERVIEWER, room_id)
        await members.start(interviewer)
        _go(first, anchor)
        steps: list[tuple[float, str]] = []
        if pause_at is not None:
            steps.append((pause_at, "pause"))
        if resume_at is not None:
            steps.append((resume_at, "resume"))
        if restart_at is not None:
            steps.append((restart_at, "restart"))
        for minute, step in sorted(steps):
            await asyncio.sleep(max(0.0, (minute - clock.minutes()) * 60 / speed))
            at_minute.set(DEMO_START + timedelta(minutes=minute))
            if step == "pause":
                await members.pause(interviewer)
            elif step == "resume":
                await members.resume(interviewer)
            elif second is not None:
                first.send_signal(signal.SIGKILL)  # a real crash: no clean-up, claims left held
                first.wait()
                _go(second, anchor)
        last = second or first
        waited_s = 60 * 90 / speed + DEMO_GRACE_S
        try:  # the bot process leaves once the room's 45 minutes (and any pause) are over
            await asyncio.to_thread(last.wait, waited_s)
        except subprocess.TimeoutExpired:
            said = sum(e["status"] == "sent" for e in await _timeline(sessions, room_id))
            raise Unavailable(
                f"The demo's bot process had not ended the mock after {waited_s:.0f} s "
                f"({said} announcements made); the machine may be too busy for this speed.",
                hint="Try a slower one, e.g. --speed 600.",
            ) from None
        return await _timeline(sessions, room_id)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
        await engine.dispose()


def demo_command(
    speed: float,
    pause_at: float | None,
    resume_at: float | None,
    restart_at: float | None,
    as_json: bool,
) -> list[dict[str, Any]]:
    """Check the options, run the demo, print the timeline (JSON or lines)."""
    from bot.errors import InvalidInput

    if speed <= 0 or speed > 6000:
        raise InvalidInput("--speed must be between 1 and 6000 (600 runs 45 minutes in 4.5 s).")
    if (pause_at is None) != (resume_at is None):
        raise InvalidInput("Give --pause-at and --resume-at together.")
    if pause_at is not None and resume_at is not None and not 0 <= pause_at < resume_at:
        raise InvalidInput("--resume-at must come after --pause-at, both at or after minute 0.")
    if restart_at is not None and not 0 < restart_at < 45:
        raise InvalidInput("--restart-at must fall inside the 45 minutes, e.g. 20.")
    with tempfile.TemporaryDirectory(prefix="studybot-mock-") as tmp:
        timeline = asyncio.run(
            run_demo(
                speed=speed,
                pause_at=pause_at,
                resume_at=resume_at,
                restart_at=restart_at,
                workdir=Path(tmp),
            )
        )
    if as_json:
        print(json.dumps(timeline, indent=2))
    else:
        for e in timeline:
            if e["status"] == "dropped":
                print(
                    f"{e['sent_min']:6.2f}  {e['kind']:<8} {e['phase']:<18} dropped: the phase "
                    f"ended before it was said (this speed may be too fast for the machine)"
                )
                continue
            print(
                f"{e['sent_min']:6.2f}  {e['kind']:<8} {e['phase']:<18} "
                f"(due {e['due_min']:.2f}) by {e['process']}"
            )
    return timeline


# --- the console's simulated mock --------------------------------------------------------

SIMULATED = (("sim-ada", "Ada (simulated)"), ("sim-bob", "Bob (simulated)"))
SIMULATION_LIMIT_MIN = 180  # simulated minutes: four times the guide's 45-minute interview


def scorecard_form(
    aspects: list[str], scale: tuple[str, ...], reds: list[str], greens: list[str]
) -> list[str]:
    """Return the console form's questions, one line each, in the order they are asked."""
    from bot.domain.scorecards import SCALE_LABELS

    levels = " / ".join(SCALE_LABELS[level] for level in scale)
    lines = [f"{aspect}? ({levels})" for aspect in aspects]
    lines.append("Red flags seen? " + " | ".join(reds))
    lines.append("Green flags seen? " + " | ".join(greens))
    lines.append("Comment for the candidate?")
    return lines


async def simulate_mock(bot: StudyBot, actor: Actor, speed: float) -> str:
    """Run a whole mock in the actor's cohort with two simulated members; return a summary."""
    from bot.clock import ScaledClock
    from bot.domain.scorecards import SCALE_LABELS
    from bot.errors import InvalidInput
    from bot.messages import Channel, Message
    from bot.services.context import Actor
    from bot.services.mocks import MockService, MockTimers

    clock = ScaledClock(datetime.now(UTC), speed)
    service = MockService(
        bot.sessions,
        bot.library,
        clock,
        bot.publishers,
        holder=f"{bot.mocks.holder}:console-simulation",
        policy=bot.real_claim_policy.scaled(speed),
    )
    members = [
        Actor(actor.platform, actor.workspace_id, actor.channel_id, uid, name)
        for uid, name in SIMULATED
    ]
    for member in members:
        await bot.cohorts.join(member)
        if (await service.status_of(member)).position:  # queued by an interrupted run
            await service.leave(member)
    view = None
    for member in members:
        view = (await service.join(member)).room or view
    assert view is not None
    room = f"mock-{view.room_id}"
    by_name = {
        m.display_name: Actor(m.platform, m.workspace_id, room, m.user_id, m.display_name)
        for m in members
    }
    interviewer, candidate = by_name[view.interviewer], by_name[view.candidate]
    publisher = bot.publishers.require(actor.platform)
    channel = Channel(actor.platform, actor.workspace_id, room)

    said = iter(range(1, 1_000_000))

    async def say(text: str) -> None:
        key = f"mock:{view.room_id}:simulated:{next(said)}"
        await publisher.post(channel, Message(text=text), idempotency_key=key)

    await say(f"{interviewer.display_name} types /mock start")
    await service.start(interviewer)
    timers = MockTimers(service, clock, tick_s=5.0)
    task = asyncio.create_task(timers.run())
    # The timer ends the room at the plan's end; a room still open long after it means the
    # timer is stuck: stop with a sentence rather than wait for ever.
    give_up_at = clock.now() + timedelta(minutes=SIMULATION_LIMIT_MIN)
    try:
        while True:
            current = (await service.status_of(interviewer)).room
            if current is None or current.status not in ("running", "paused"):
                break
            if task.done():
                task.result()  # the timer failed: its error, not a wait for ever
                raise RuntimeError("the mock timer stopped before the room ended")
            if clock.now() > give_up_at:
                raise InvalidInput(
                    f"The simulated mock did not end within {SIMULATION_LIMIT_MIN} simulated "
                    "minutes, so it was stopped; try a slower speed, e.g. /mock simulate 180."
                )
            await clock.sleep(30)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    aspects, scale, reds, greens = service.scorecard_form()
    questions = scorecard_form(aspects, scale, reds, greens)
    ratings = {a: ("great" if i % 3 == 0 else "good") for i, a in enumerate(aspects)}
    answers = [SCALE_LABELS[ratings[a]] for a in aspects] + [
        reds[0],
        greens[0],
        "Clear trade-offs.",
    ]
    for question, answer in zip(questions, answers, strict=True):
        await say(f"{interviewer.display_name} · {question}\n  → {answer}")
    await service.self_rate(candidate, "good")
    await say(f"{candidate.display_name} types /mock selfrate good")
    return await service.submit_scorecard(
        interviewer, ratings=ratings, flags=[reds[0], greens[0]], comment="Clear trade-offs."
    )


# --- the solo mock: StudyBot interviews a simulated candidate ----------------------------

# What the simulated candidate says, at which interview minute: questions first, one weak
# answer (for the push back), a trap answer, numbers and trade-offs, a wrap-up.
SOLO_CANDIDATE: tuple[tuple[float, str], ...] = (
    (0.5, "What type of models are we serving: LLMs, vision or tabular?"),
    (1.5, "What's the latency requirement for the user-facing path?"),
    (2.5, "What peak QPS should we expect?"),
    (3.5, "Do we need A/B testing between model versions? How big is the team?"),
    (
        6.0,
        "I'd put an API gateway in front, then a router that sends each request to a GPU "
        "serving pool per model, with a model registry feeding deployments and a feature "
        "store for the tabular models.",
    ),
    (8.0, "Just add more servers."),
    (
        10.0,
        "Each component exists for a reason: the gateway handles auth and rate limits, the "
        "router splits traffic for canary and A/B tests by hashing the user id, and the pools "
        "scale on queue depth.",
    ),
    (
        16.0,
        "I'll go deep on dynamic batching: GPU utilisation goes from about 10% to 80% when we "
        "batch, and for LLMs continuous batching with PagedAttention stops us wasting KV cache "
        "memory.",
    ),
    (
        19.0,
        "Models are not regular services: they need GPUs and warm-up before taking traffic, "
        "and versioned rollouts with a canary and a rollback, so a plain rolling update is "
        "not enough.",
    ),
    (
        23.0,
        "The trade-off is latency against throughput: a 10 ms batching window raises p99 "
        "latency a little but roughly triples throughput per GPU.",
    ),
    (
        31.0,
        "We scale the GPU pools on queue depth and degrade gracefully: fall back to a smaller "
        "distilled model, then to cached responses, when the primary model fails.",
    ),
    (
        35.0,
        "For monitoring we track latency and errors, and also data drift and concept drift on "
        "the input features and the predictions.",
    ),
    (
        41.0,
        "Key decisions: dynamic batching, canary rollouts checked for statistical significance, "
        "and a fallback chain. Open questions: multi-region consistency and cost per request.",
    ),
)


async def run_solo_demo(
    workdir: Path, *, llm: Any = None, script: tuple[tuple[float, str], ...] = SOLO_CANDIDATE
) -> dict[str, Any]:
    """Run a whole solo mock with a simulated candidate on a fast clock; return its record."""
    from bot.clock import FakeClock
    from bot.services.cohorts import CohortService
    from bot.services.context import Actor
    from bot.services.solo_mocks import SoloMocks
    from bot.store.engine import make_engine, make_session_factory
    from bot.store.migrate import upgrade_async
    from graders.embeddings import default_embedder
    from graders.interviewer import GuardedInterviewer, LLMInterviewer, ScriptedInterviewer

    engine = make_engine(f"sqlite+aiosqlite:///{workdir / 'solo-demo.db'}")
    await upgrade_async(engine)
    sessions = make_session_factory(engine)
    clock = FakeClock(DEMO_START - timedelta(minutes=1))
    try:
        cohorts = CohortService(sessions, clock)
        admin = Actor("console", "demo", "cohort", "U-admin", "Admin", is_workspace_admin=True)
        await cohorts.setup(admin, name="Demo")
        candidate = Actor("console", "demo", "cohort", CANDIDATE[0], CANDIDATE[1])
        await cohorts.join(candidate)
        clock.set(DEMO_START)
        service = _service(sessions, clock, "demo")
        embedder = default_embedder()
        interviewer = GuardedInterviewer(
            ScriptedInterviewer(embedder),
            embedder,
            llm=None if llm is None else LLMInterviewer(llm),
        )
        solo = SoloMocks(service, interviewer, embedder)
        view = await solo.start(candidate, "guide:ml-serving")
        in_room = _room_actor(CANDIDATE, view.room_id)
        lines = list(script)
        while True:
            await service.announce_due()
            minute = (clock.now() - DEMO_START).total_seconds() / 60
            while lines and lines[0][0] <= minute:
                await solo.say(in_room, lines.pop(0)[1])
            async with sessions() as session:
                from bot.store.mocks import get_room

                room = await get_room(session, room_id=view.room_id)
            if room is None or room.status not in ("running", "paused"):
                break
            clock.advance(15)
        turns = await solo.transcript(view.room_id)
        async with sessions() as session:
            from bot.store.mocks import get_room

            room = await get_room(session, room_id=view.room_id)
        assert room is not None
        card = room.scorecard.get("solo", {})
        return {
            "transcript": [
                {
                    "minute": round(t.minute, 2),
                    "phase": t.phase,
                    "speaker": t.speaker,
                    "text": t.text,
                }
                for t in turns
            ],
            "scorecard": {
                "aspects": card.get("aspects", []),
                "flags": card.get("flags", {"red": [], "green": []}),
            },
        }
    finally:
        await engine.dispose()


def solo_demo_command(as_json: bool) -> dict[str, Any]:
    """Run the solo demo and print its transcript and scorecard (JSON or lines)."""
    with tempfile.TemporaryDirectory(prefix="studybot-solo-") as tmp:
        record = asyncio.run(run_solo_demo(Path(tmp)))
    if as_json:
        print(json.dumps(record, indent=2))
        return record
    for t in record["transcript"]:
        print(f"{t['minute']:5.1f} {t['phase']:<18} {t['speaker']:<11} {t['text']}")
    print()
    for a in record["scorecard"]["aspects"]:
        print(f"{a['aspect']}: {a['rating']}  " + " | ".join(a["evidence"]))
    print("red flags:", "; ".join(record["scorecard"]["flags"]["red"]) or "none")
    print("green flags:", "; ".join(record["scorecard"]["flags"]["green"]) or "none")
    return record


async def simulate_solo(bot: StudyBot, actor: Actor, speed: float) -> str:
    """Run a whole solo mock in the console: StudyBot interviews a simulated candidate.

    The clock steps 15 s at a time and waits 15/speed real seconds between steps, so a slow
    machine slows the show down instead of letting the interview run past the candidate.
    """
    from bot.clock import FakeClock
    from bot.messages import Channel, Message
    from bot.services.context import Actor
    from bot.services.mocks import MockService
    from bot.services.solo_mocks import SoloMocks

    clock = FakeClock(datetime.now(UTC))
    service = MockService(
        bot.sessions,
        bot.library,
        clock,
        bot.publishers,
        holder=f"{bot.mocks.holder}:console-solo",
        policy=bot.mocks.policy,
    )
    solo = SoloMocks(service, bot.solo.engine, bot.solo.embedder)
    await asyncio.to_thread(solo.embedder.encode, ["warm up"])  # load the encoder first
    member = Actor(
        actor.platform, actor.workspace_id, actor.channel_id, "sim-cay", "Cay (simulated)"
    )
    await bot.cohorts.join(member)
    if (await service.status_of(member)).position:
        await service.leave(member)
    view = await solo.start(member, "guide:ml-serving")
    room = f"mock-{view.room_id}"
    candidate = Actor(
        member.platform, member.workspace_id, room, member.user_id, member.display_name
    )
    publisher = bot.publishers.require(actor.platform)
    channel = Channel(actor.platform, actor.workspace_id, room)
    started = clock.now()
    lines = list(enumerate(SOLO_CANDIDATE, start=1))
    while (await service.status_of(candidate)).room is not None:
        await service.announce_due()
        minute = (clock.now() - started).total_seconds() / 60
        while lines and lines[0][1][0] <= minute:
            n, (_, text) = lines.pop(0)
            await publisher.post(
                channel, Message(text=f"{member.display_name}: {text}"), idempotency_key=f"c{n}"
            )
            line = await solo.say(candidate, text)
            await publisher.post(
                channel, Message(text=f"StudyBot: {line.text}"), idempotency_key=f"r{n}"
            )
        clock.advance(15)
        await asyncio.sleep(15 / speed)
    return f"Solo mock {view.room_id} over: the scorecard went to {member.display_name}."


def _main() -> None:
    parser = argparse.ArgumentParser(description="A bot process of the mock demo.")
    parser.add_argument("--worker", nargs=3, metavar=("URL", "HOLDER", "SPEED"), required=True)
    parser.add_argument(
        "--slack", action="store_true", help="announce Slack rooms through the Slack settings"
    )
    args = parser.parse_args()
    url, holder, speed = args.worker
    asyncio.run(_worker(url, holder, float(speed), slack=args.slack))


if __name__ == "__main__":
    _main()
