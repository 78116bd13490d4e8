"""The console end to end: the real `studybot` process through stdin/stdout.

Nothing here sleeps on the wall clock: each test waits for the line it needs on the process's
output (an event), with a deadline only as a safety net.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from queue import Empty, Queue
from typing import Any

import pytest

STUDYBOT = [sys.executable, "-m", "bot"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["STUDYBOT_DB_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"
    env["STUDYBOT_DEFAULT_TIMEZONE"] = "UTC"
    env["STUDYBOT_DEFAULT_POST_TIME"] = "08:00"
    # A process that does not end is stopped with SIGABRT: every thread's stack is printed.
    env["PYTHONFAULTHANDLER"] = "1"
    for name in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "STUDYBOT_REDIS_URL"):
        env.pop(name, None)
    return env


class Session:
    """A running `studybot` process whose output lines arrive on a queue."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [*STUDYBOT, *args],
            env=env,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: Queue[str | None] = Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(line + "\n" for line in lines))
        self.proc.stdin.flush()

    def wait_for(self, text: str, deadline_s: float = 90) -> str:
        """Return the output up to the first line containing `text`."""
        while True:
            try:
                line = self.lines.get(timeout=deadline_s)
            except Empty:
                pytest.fail(f"{text!r} never appeared; output so far:\n{''.join(self.seen)}")
            if line is None:
                pytest.fail(f"process ended before {text!r}:\n{''.join(self.seen)}")
            self.seen.append(line)
            if text in line:
                return "".join(self.seen)

    def finish(self, timeout: float = 60) -> str:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGABRT)  # where each thread stands, in the output
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            while (line := self.lines.get(timeout=10)) is not None:
                self.seen.append(line)
            pytest.fail("the process did not end; output:\n" + "".join(self.seen))
        while (line := self.lines.get(timeout=10)) is not None:
            self.seen.append(line)
        return "".join(self.seen)


def migrate(env: dict[str, str], cwd: Path) -> None:
    upgrade = subprocess.run(
        [*STUDYBOT, "db", "upgrade"], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr


def quit_at_once(args: list[str], env: dict[str, str], cwd: Path) -> Any:
    """Run a studybot command whose console, if it opens, is told /quit at once."""
    return subprocess.run(
        [*STUDYBOT, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        input="/quit\n",
    )


def test_run_refuses_an_unmigrated_database(env: dict[str, str], tmp_path: Path) -> None:
    result = quit_at_once(["run"], env, tmp_path)
    assert result.returncode == 2
    assert "studybot db upgrade" in result.stderr


def test_run_with_no_token_and_no_terminal_says_so_in_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrate(env, tmp_path)
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
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert "No DISCORD_TOKEN or SLACK_BOT_TOKEN" in line and "no terminal" in line


def test_console_commands_and_the_day_arriving_on_schedule(
    env: dict[str, str], tmp_path: Path
) -> None:
    migrate(env, tmp_path)
    session = Session(["console", "--now", "2026-12-01T07:59:57"], env, tmp_path)
    session.send(
        "/help", "/cohort status", "/day 121", "/day 500", "/cohort setup timezone=Mars/Base"
    )
    session.wait_for("━━ Day 1 of 133")  # the 08:00 post falls due three seconds in
    session.wait_for("→ /thread E1-040")  # its last question
    session.send("/thread 2", "It's the chain rule, applied in reverse.", "/back", "/quit")
    out = session.finish()
    assert session.proc.returncode == 0, out
    assert "StudyBot commands" in out and "/cohort setup" in out and "/answer" in out
    assert "/quit" in out
    assert "Created the local cohort: day 1 is 2026-12-01" in out
    assert "Cohort Local study group" in out
    assert "Day 121 of 133" in out and "Word Search" in out
    assert "Day 500 is outside the curriculum (1-133)" in out
    assert "nknown time zone 'Mars/Base'" in out
    # The scheduled post arrived in the simulated channel, with a thread per question.
    assert "[#study]\n━━ Day 1 of 133" in out
    assert "[#study · thread" in out
    assert out.count("━━ Day 1 of 133") == 1
    assert "In the thread of E1-003" in out and "grading…" in out
    # Scheduler logs go to the file the greeting names, not into the chat.
    assert "apscheduler" not in out and "Running job" not in out and " INFO " not in out
    log_file = tmp_path / "studybot.log"
    assert f"Logs go to {log_file}" in out
    assert "scheduler rebuilt" in log_file.read_text()


def test_a_first_start_in_the_afternoon_starts_tomorrow_and_reports_no_outage(
    env: dict[str, str], tmp_path: Path
) -> None:
    # 08:00 was more than the 6-hour grace ago: day 1 would be missed before it could be posted.
    migrate(env, tmp_path)
    result = quit_at_once(["console", "--now", "2026-12-01T15:20:00"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Created the local cohort: day 1 is 2026-12-02, posts at 08:00" in result.stdout
    assert "was not posted" not in result.stdout and "bot was down" not in result.stdout


@pytest.mark.parametrize("speed", ["0", "-5", "86400"])
def test_a_demo_clock_too_fast_to_follow_is_refused_in_one_line(
    env: dict[str, str], tmp_path: Path, speed: str
) -> None:
    # A day a second would pass the 6-hour grace between two looks: every day "missed".
    result = quit_at_once(["console", "--speed", speed], env, tmp_path)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert "--speed must be above 0 and at most 3600" in line and "Traceback" not in line


def test_a_fast_console_clock_posts_its_day_without_a_failed_fence_check(
    env: dict[str, str], tmp_path: Path
) -> None:
    # An hour a second: the claims' send window, set in real seconds, is scaled to the clock
    # (unscaled, its 5 s would be 1.4 ms, about one fence check: parts were held back).
    migrate(env, tmp_path)
    args = ["console", "--speed", "3600", "--now", "2026-12-01T07:59:00"]
    session = Session(args, env, tmp_path)
    session.wait_for("→ /thread E1-040")  # the last question of day 1
    session.send("/quit")
    out = session.finish()
    assert session.proc.returncode == 0, out
    assert out.count("━━ Day 1 of 133") == 1
    assert "fence checks" not in (tmp_path / "studybot.log").read_text()


def test_demo_posts_day_one_within_seconds_whatever_ran_before(
    env: dict[str, str], tmp_path: Path
) -> None:
    # A configured database whose cohort starts tomorrow does not matter to the demo.
    migrate(env, tmp_path)
    subprocess.run(
        [*STUDYBOT, "console"],
        env=env,
        cwd=tmp_path,
        input="/quit\n",
        text=True,
        timeout=120,
        capture_output=True,
        check=True,
    )
    session = Session(["demo", "--lead", "2"], env, tmp_path)
    out = session.wait_for("━━ Day 1 of 133")
    assert "throwaway database" in out
    session.send("/today", "/quit")
    out = session.finish()
    assert session.proc.returncode == 0, out
    assert out.count("━━ Day 1 of 133") == 2  # the post, then /today
    workdir = out.split("throwaway database (")[1].split(")")[0]
    assert not Path(workdir).exists()  # thrown away


def test_ctrl_c_leaves_the_console_at_once(env: dict[str, str], tmp_path: Path) -> None:
    migrate(env, tmp_path)
    session = Session(["console"], env, tmp_path)
    session.wait_for("Type /help")
    session.proc.send_signal(signal.SIGINT)
    # stdin stays open and no Enter is pressed: the process must still end.
    out = session.finish(timeout=30)
    assert session.proc.returncode == 0, out
    assert "Bye." in out and "Traceback" not in out
