"""The console face in process, on an injected clock: threads, /as, help, Markdown, progress."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsoleFace, render_text
from bot.scheduling import DailyScheduler
from bot.settings import load_settings
from bot.store.models import Answer, Cohort

BACKPROP = (
    "It's the chain rule: the forward pass builds a computation graph and backward walks it "
    "in reverse, multiplying the upstream gradient by each node's local Jacobian."
)


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDYBOT_DEFAULT_TIMEZONE", "UTC")
    monkeypatch.setenv("STUDYBOT_DEFAULT_POST_TIME", "08:00")
    return StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 7, 59, 50, tzinfo=UTC)),
    )


async def console(bot: StudyBot, lines: str = "") -> tuple[ConsoleFace, io.StringIO]:
    out = io.StringIO()
    face = ConsoleFace(bot, stdin=io.StringIO(lines), stdout=out)
    await face.ensure_cohort()
    return face, out


async def type_lines(face: ConsoleFace, out: io.StringIO, *lines: str) -> str:
    start = out.tell()
    for line in lines:
        await face.handle_line(line)
    return out.getvalue()[start:]


async def answers(bot: StudyBot) -> list[Answer]:
    async with bot.sessions() as session:
        return list((await session.execute(select(Answer))).scalars().all())


async def test_the_day_arrives_once_on_the_clock_and_its_threads_take_plain_answers(
    bot: StudyBot,
) -> None:
    face, out = await console(bot)
    scheduler = DailyScheduler(bot, tick_s=3600)
    await scheduler.run_due()
    assert "Day 1 of 133" not in out.getvalue()  # ten seconds early
    assert isinstance(bot.clock, FakeClock)
    bot.clock.advance(11)
    await scheduler.run_due()
    await scheduler.run_due()
    shown = out.getvalue()
    assert shown.count("━━ Day 1 of 133") == 1
    assert "→ /thread E1-003 to answer here" in shown

    text = await type_lines(face, out, "/thread", "/thread 2", BACKPROP)
    assert "1. E1-001\n2. E1-003\n3. E1-040" in text
    assert "In the thread of E1-003" in text
    assert text.index("grading…") < text.index("━━ E1-003:")  # progress shown before the grade
    (answer,) = await answers(bot)
    assert answer.question_id == "E1-003" and answer.text == BACKPROP
    assert answer.source == "thread"  # the real thread of the post, not a stand-in

    text = await type_lines(face, out, "/back", "a plain line outside any thread")
    assert "Left the thread of E1-003" in text
    assert "Commands start with /" in text and "/thread <question id>" in text
    assert len(await answers(bot)) == 1


async def test_a_question_thread_opens_by_id_even_before_its_day(bot: StudyBot) -> None:
    face, out = await console(bot)
    text = await type_lines(face, out, "/thread e3-082", "Mixed precision halves activations.")
    assert "In the thread of E3-082" in text
    (answer,) = await answers(bot)
    assert answer.question_id == "E3-082"
    text = await type_lines(face, out, "/back", "/thread E99-999")
    assert "✗" in text and "E99-999" in text


async def test_answers_keep_apostrophes_quotes_and_backslashes(bot: StudyBot) -> None:
    face, out = await console(bot)
    prose = "It's \"backprop\": weights live in C:\\models\\llama, an odd ' is fine"
    text = await type_lines(face, out, f"/answer E1-003 {prose}")
    assert "Could not read" not in text and "✗" not in text
    (answer,) = await answers(bot)
    assert answer.text == prose


async def test_acting_as_a_member_shows_their_permissions_and_private_replies(
    bot: StudyBot,
) -> None:
    face, out = await console(bot)
    text = await type_lines(face, out, "/as bob", "/cohort pause lunch", "/today")
    assert "Now acting as bob" in text and "bob joined the cohort" in text
    assert "Only server/workspace admins or this cohort's admins" in text
    assert "[only bob can see this]" in text
    assert face.prompt.startswith("bob ")
    text = await type_lines(face, out, "/as you", "/cohort admin add @bob", "/cohort status")
    assert "bob is now an admin of this cohort" in text
    assert "you, bob" in text
    text = await type_lines(face, out, "/as bob", "/cohort pause lunch")
    assert "Daily posts paused" in text
    assert "joined" not in text  # already a member


async def test_help_names_quit_and_the_console_commands_and_markdown_is_rendered(
    bot: StudyBot,
) -> None:
    face, out = await console(bot)
    text = await type_lines(face, out, "/help", "/today")
    for command in ("/quit", "/thread", "/back", "/as <name>", "/answer <id> <text>"):
        assert command in text
    assert "**" not in text and "`" not in text


def test_markdown_markers_are_stripped_or_bold_in_a_terminal() -> None:
    from bot.messages import Message

    message = Message(text="Use **AdamW** with `lr=3e-4`", footer="see `/help`")
    assert render_text(message) == "Use AdamW with lr=3e-4\n  (see /help)"
    assert "\033[1mAdamW\033[0m" in render_text(message, ansi=True)


async def test_cohort_status_and_today_agree_on_the_day(bot: StudyBot) -> None:
    face, out = await console(bot)
    scheduler = DailyScheduler(bot, tick_s=3600)
    assert isinstance(bot.clock, FakeClock)
    text = await type_lines(face, out, "/cohort status")
    assert "Not started yet" in text
    # Four days later, just before the post time: day 4 is out, day 5 is not yet.
    bot.clock.set(datetime(2026, 12, 5, 7, 0, tzinfo=UTC))
    await scheduler.run_due()
    text = await type_lines(face, out, "/cohort status", "/today")
    assert "Day 4 of 133" in text.split("▸ Next post")[0]
    assert "━━ Day 4 of 133" in text
    assert "Day 5 of 133" not in text


async def test_skip_takes_an_amount_and_confirms_and_a_repeat_moves_nothing(
    bot: StudyBot,
) -> None:
    face, out = await console(bot)
    text = await type_lines(face, out, "/cohort skip")
    assert "needs days" in text
    text = await type_lines(face, out, "/cohort skip 2")
    assert "Move the schedule 2 day(s) later?" in text
    flat = " ".join(text.split())
    assert "Day 1 would post 2026-12-03 08:00 UTC instead of 2026-12-01 08:00 UTC" in flat
    confirm = text.split("To confirm: ")[1].split("\n")[0].strip()
    assert confirm.startswith("/cohort skip 2 confirm=")
    async with bot.sessions() as session:
        (cohort,) = (await session.execute(select(Cohort))).scalars().all()
    assert cohort.day_shift == 0  # the preview moved nothing
    text = await type_lines(face, out, confirm, confirm)
    assert text.count("Schedule moved 2 day(s) later") == 1
    assert "nothing moved" in text
    async with bot.sessions() as session:
        (cohort,) = (await session.execute(select(Cohort))).scalars().all()
    assert cohort.day_shift == -2
    # After day 1 is out, the next new day (2) moves from tomorrow to the day after.
    assert isinstance(bot.clock, FakeClock)
    bot.clock.set(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    text = await type_lines(face, out, "/cohort skip 1")
    flat = " ".join(text.split())
    assert "Day 2 would post 2026-12-05 08:00 UTC instead of 2026-12-04 08:00 UTC" in flat


async def test_the_setup_names_a_new_cohort_after_its_channel(bot: StudyBot) -> None:
    from bot.commands import dispatch
    from bot.services.context import Actor

    admin = Actor(
        "slack", "T1", "C0STUDY01", "U1", "Ada", is_workspace_admin=True, channel_name="ml-prep"
    )
    await dispatch(bot, admin, "cohort setup", {})
    cohort = await bot.cohorts.cohort_for(admin)
    assert cohort is not None and cohort.name == "#ml-prep"


async def test_streaks_reminders_and_the_leaderboard_that_help_promises_exist(
    bot: StudyBot,
) -> None:
    from bot.commands import COMMANDS, help_reply

    texts = [render_text(m) for m in help_reply().messages]
    joined = "\n".join(texts).lower()
    for promised in ("streak", "reminder", "/leaderboard"):
        assert promised in joined
    assert {"leaderboard", "stats", "review", "me remind", "me timezone"} <= set(COMMANDS)


async def test_a_pasted_answer_of_several_lines_is_one_answer(bot: StudyBot) -> None:
    import os

    read_fd, write_fd = os.pipe()
    answer = "First, the forward pass builds a graph.\n\nThen backward applies the chain rule."
    lines = f"/thread E1-003\n{answer}\n/back\n/answer E1-001 a tensor is\nan n-d array\n/quit\n"
    os.write(write_fd, lines.encode())
    os.close(write_fd)
    out = io.StringIO()
    with os.fdopen(read_fd) as stdin:
        face = ConsoleFace(bot, stdin=stdin, stdout=out)
        await face.ensure_cohort()
        await face.run(greet=False)
    stored = sorted((a.question_id, a.text) for a in await answers(bot))
    assert stored == [("E1-001", "a tensor is\nan n-d array"), ("E1-003", answer)]
    assert "Left the thread of E1-003" in out.getvalue()
