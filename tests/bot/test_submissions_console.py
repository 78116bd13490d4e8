"""/submit and /drill in the console, judged for real by the local runner in the sandbox."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.app import StudyBot
from bot.clock import FakeClock
from bot.platforms.console import ConsoleFace
from bot.settings import load_settings
from bot.store.models import PointsEvent, Submission
from tests.gpu_runner.runner_support import require_sandbox

KV = (
    "def kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, bytes_per_element=2, batch=1):\n"
    "    return 2 * n_layers * n_kv_heads * head_dim * seq_len * bytes_per_element * batch\n"
)
KV_WRONG = KV.replace("return 2 *", "return 3 *")


@pytest.fixture
def bot(db: Any, monkeypatch: pytest.MonkeyPatch) -> StudyBot:
    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "STUDYBOT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STUDYBOT_RUNNER_BACKEND", "local")
    monkeypatch.setenv("STUDYBOT_RUNNER_TIMING", "false")  # correctness only: fast
    return StudyBot(
        settings=load_settings(),
        engine=db.engine,
        sessions=db.sessions,
        clock=FakeClock(datetime(2026, 12, 1, 9, tzinfo=UTC)),
    )


async def console(bot: StudyBot) -> tuple[ConsoleFace, io.StringIO]:
    out = io.StringIO()
    face = ConsoleFace(bot, stdin=io.StringIO(""), stdout=out)
    await face.ensure_cohort()
    return face, out


async def typed(face: ConsoleFace, out: io.StringIO, line: str) -> str:
    start = out.tell()
    await face.handle_line(line)
    return out.getvalue()[start:]


async def test_a_file_is_judged_in_the_sandbox_and_the_verdict_shown(
    bot: StudyBot, tmp_path: Path
) -> None:
    require_sandbox()
    face, out = await console(bot)
    good, bad = tmp_path / "kv.py", tmp_path / "kv_wrong.py"
    good.write_text(KV)
    bad.write_text(KV_WRONG)
    try:
        shown = await typed(face, out, f"/submit kv_cache_bytes {bad}")
        assert "… Submission #1 is queued" in shown
        assert "Submission #1 (kv_cache_bytes): wrong" in shown
        shown = await typed(face, out, f"/submit kv_cache_bytes {good}")
        assert "Submission #2 (kv_cache_bytes): passed" in shown
        assert "Judged without timing, so it is not ranked." in shown
        assert shown.count("is queued") == 1  # one line per change, never flooded
    finally:
        await bot.close()
    async with bot.sessions() as session:
        subs = (await session.execute(select(Submission))).scalars().all()
        points = (await session.execute(select(PointsEvent))).scalars().all()
    assert [(s.status, s.verdict) for s in subs] == [("done", "wrong"), ("done", "passed")]
    assert [p.ref for p in points] == ["drill:passed:2"]


async def test_bad_input_gets_one_sentence_and_queues_nothing(
    bot: StudyBot, tmp_path: Path
) -> None:
    face, out = await console(bot)
    broken = tmp_path / "broken.py"
    broken.write_text("def kv_cache_bytes(:\n")
    huge = tmp_path / "huge.py"
    huge.write_text("#" * 70_000)
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"def kv_cache_bytes():\n    return '\xe9'\n")
    cases = {
        f"/submit kv_cache_bytes {tmp_path / 'nope.py'}": "There is no file at",
        f"/submit kv_cache_bytes {broken}": "syntax error on line 1",
        f"/submit kv_cache_bytes {huge}": "at most 64 KB",
        f"/submit kv_cache_bytes {latin}": "not UTF-8",
        f"/submit softmax {broken}": "syntax error",
        f"/submit softmx {broken}": "Did you mean softmax?",
        f"/submit kv_cache_bytes {broken} device=GPU!": "is not a device kind",
    }
    for line, says in cases.items():
        shown = await typed(face, out, line)
        assert says in shown, (line, shown)
        assert "Traceback" not in shown
    async with bot.sessions() as session:
        assert (await session.execute(select(Submission))).scalars().all() == []


async def test_drill_list_show_template_and_an_empty_board(bot: StudyBot) -> None:
    face, out = await console(bot)
    listed = await typed(face, out, "/drill list")
    assert "softmax" in listed and "kv_cache_bytes" in listed
    assert "E12-495" in listed and "prose" in listed  # pseudo-code questions: no fake drill
    shown = await typed(face, out, "/drill show softmax")
    assert "def softmax" in shown
    template = await typed(face, out, "/drill template lru_cache")
    assert "class LRUCache" in template
    board = await typed(face, out, "/drill board softmax cuda")
    assert "softmax (cuda): no passing runs yet" in board
    assert "/submit softmax" in board
