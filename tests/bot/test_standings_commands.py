"""/leaderboard, /stats and /me remind through the catalogue, and the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.app import StudyBot
from bot.cli import app
from bot.clock import FakeClock
from bot.commands import dispatch
from bot.errors import StudyBotError
from bot.services.context import Actor
from bot.settings import get_settings, load_settings
from bot.store.migrate import upgrade
from bot.store.models import MemberStanding
from tests.bot.test_standings_charts import png_size

ADMIN = Actor("console", "local", "study", "admin", "Admin", is_workspace_admin=True)
BOB = Actor("console", "local", "study", "bob", "Bob")
OUTSIDER = Actor("console", "local", "elsewhere", "eve", "Eve", is_workspace_admin=True)
STRONG = (
    "Adam keeps two moments, m and v, in FP32: 8 bytes per parameter on top of the weights and "
    "gradients. For a 7B model that is 56 GB of optimizer state. AdamW decouples weight decay "
    "from the gradient and applies it directly to the parameter update."
)


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    return StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 2, 9, tzinfo=UTC)),
    )


async def test_an_answer_shows_on_the_board_and_in_stats_with_a_chart(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})
    board = (await dispatch(bot, ADMIN, "leaderboard", {})).messages[0]
    assert "1. Bob — " in board.text and "Page 1 of 1" in (board.footer or "")
    assert not board.buttons  # one page: nothing to page to
    stats = (await dispatch(bot, ADMIN, "stats", {"member": "@bob"})).messages[0]
    assert stats.image is not None and png_size(stats.image.data) == (1000, 650)
    assert stats.text.startswith("Bob: ") and "Streak 1 day(s)" in stats.text


@pytest.mark.parametrize(
    ("path", "args", "message"),
    [
        ("leaderboard", {"period": "decade"}, "'decade' is not a period"),
        ("leaderboard", {"metric": "karma"}, "'karma' is not a metric"),
        ("leaderboard", {"page": 3}, "Page 3 is past the end"),
        ("me remind", {"hour": "25"}, "25 is not an hour of the day"),
        ("me remind", {"hour": "soon"}, "is not an hour"),
        ("me timezone", {"zone": "Mars/Base"}, "nknown time zone"),
    ],
)
async def test_bad_input_gets_one_sentence_and_changes_nothing(
    bot: StudyBot, path: str, args: dict[str, Any], message: str
) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    with pytest.raises(StudyBotError, match=message):
        await dispatch(bot, BOB, path, args)
    async with bot.sessions() as session:
        assert await session.get(MemberStanding, 2) is None


async def test_stats_of_another_cohorts_member_is_refused(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.setup(OUTSIDER, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    with pytest.raises(StudyBotError, match="not in this cohort"):
        await dispatch(bot, OUTSIDER, "stats", {"member": "bob"})


async def test_a_reminder_hour_is_stored_and_turned_off(bot: StudyBot) -> None:
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    reply = await dispatch(bot, BOB, "me remind", {"hour": "7"})
    assert "07:00" in reply.messages[0].text
    async with bot.sessions() as session:
        member = await bot.cohorts.member(BOB)
        assert member is not None
        standing = await session.get(MemberStanding, member.id)
        assert standing is not None and standing.remind_hour == 7
    await dispatch(bot, BOB, "me remind", {"hour": "off"})
    async with bot.sessions() as session:
        standing = await session.get(MemberStanding, member.id)
        assert standing is not None and standing.remind_hour is None


@pytest.fixture
def local_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'studybot.db'}"
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDYBOT_DB_URL", url)
    monkeypatch.setenv("STUDYBOT_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    upgrade(url)
    yield tmp_path
    get_settings.cache_clear()


def test_the_command_line_prints_a_board_as_json_and_draws_stats(local_db: Path) -> None:
    runner = CliRunner()
    board = runner.invoke(app, ["leaderboard", "--period", "all", "--metric", "streak", "--json"])
    assert board.exit_code == 0, board.output
    data = json.loads(board.output)
    assert data["period"] == "all" and data["metric"] == "streak" and data["rows"] == []
    out = local_db / "chart.png"
    stats = runner.invoke(app, ["stats", "--out", str(out)])
    assert stats.exit_code == 0, stats.output
    assert f"Chart saved: {out}" in stats.output and png_size(out.read_bytes()) == (1000, 650)
    bad = runner.invoke(app, ["leaderboard", "--metric", "karma"])
    assert bad.exit_code != 0 and "'karma' is not a metric" in bad.output


class DMs:
    """A Publisher that keeps the DMs it is asked to send."""

    platform = "console"

    def __init__(self) -> None:
        self.dms: list[tuple[str, Any]] = []

    async def send_dm(self, user_id: str, message: Any) -> Any:
        self.dms.append((user_id, message))

    async def post(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("not used")

    async def find_posted(self, *args: Any) -> None:
        return None


async def test_an_at_risk_streak_gets_one_reminder_at_the_members_local_hour(
    bot: StudyBot,
) -> None:
    bot.add_publisher("console", DMs())  # type: ignore[arg-type]
    await bot.cohorts.setup(ADMIN, start_date="2026-12-01")
    await bot.cohorts.join(BOB)
    await dispatch(bot, BOB, "me timezone", {"zone": "Asia/Kolkata"})
    await dispatch(bot, BOB, "answer", {"id": "E1-005", "text": STRONG})  # 14:30 in Kolkata
    await dispatch(bot, BOB, "me remind", {"hour": "19"})
    publisher = bot.publishers["console"]
    assert await bot.streak_reminders.send_due() == 0  # done today: nothing at risk
    bot.clock.advance(hours=24 + 4, minutes=30)  # type: ignore[attr-defined]  # 19:00 next day
    assert await bot.streak_reminders.send_due() == 1
    assert await bot.streak_reminders.send_due() == 0  # once a day
    (user, message), *_ = publisher.dms  # type: ignore[attr-defined]
    assert user == "bob" and "1-day streak is at risk" in message.text
