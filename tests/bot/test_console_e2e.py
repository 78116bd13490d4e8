"""The console face end to end: the real `studybot console` loop through stdin/stdout."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

STUDYBOT = [sys.executable, "-m", "bot"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STUDYBOT_DB_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["STUDYBOT_DEFAULT_TIMEZONE"] = "UTC"
    env["STUDYBOT_DEFAULT_POST_TIME"] = "08:00"
    env.pop("DISCORD_TOKEN", None)
    env.pop("SLACK_BOT_TOKEN", None)
    return env


def test_run_refuses_an_unmigrated_database(env: dict[str, str], tmp_path: Path) -> None:
    result = subprocess.run(
        [*STUDYBOT, "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 2
    assert "studybot db upgrade" in result.stderr


def test_console_commands_and_the_day_arriving_on_schedule(
    env: dict[str, str], tmp_path: Path
) -> None:
    upgrade = subprocess.run(
        [*STUDYBOT, "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgrade.returncode == 0, upgrade.stderr
    proc = subprocess.Popen(
        [*STUDYBOT, "console", "--now", "2026-12-01T07:59:57", "--speed", "1"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None
    proc.stdin.write(
        "/help\n/cohort status\n/day 121\n/day 500\n/cohort setup timezone=Mars/Base\n"
    )
    proc.stdin.flush()
    time.sleep(8)  # the 08:00 post falls due three seconds in
    proc.stdin.write("/quit\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "StudyBot commands" in out and "/cohort setup" in out and "/answer" in out
    assert "Created the local cohort: day 1 is 2026-12-01" in out
    assert "Cohort Local study group" in out
    assert "Day 121 of 133" in out and "Word Search" in out
    assert "Day 500 is outside the curriculum (1-133)" in out
    assert "nknown time zone 'Mars/Base'" in out
    # The scheduled post arrived in the simulated channel, with a thread per question.
    assert "[#study]\n━━ Day 1 of 133" in out
    assert "[#study · thread" in out
    assert out.count("━━ Day 1 of 133") == 1
