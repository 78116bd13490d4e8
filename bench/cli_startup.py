"""How much CPU `studybot --help` costs: user+system seconds of fresh processes.

Prints the median over a few runs and which heavy modules `import bot.cli` loads (none is the
goal: the curriculum, the sandbox and the chat SDKs load on first use). Target: under 0.3 s.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

RUNS = 7
HEAVY = ("content.library", "torch", "discord", "slack_bolt", "sqlalchemy", "graders")


def cpu_seconds(args: list[str]) -> float:
    """Run a command and return the CPU seconds (user + system) its process used."""
    before = os.times()
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    after = os.times()
    return (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )


def main() -> None:
    """Print the figures."""
    cli = [sys.executable, "-m", "bot", "--help"]
    bare = [sys.executable, "-c", "pass"]
    help_cpu = statistics.median(cpu_seconds(cli) for _ in range(RUNS))
    python_cpu = statistics.median(cpu_seconds(bare) for _ in range(RUNS))
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, bot.cli; print(' '.join(m for m in "
            f"{HEAVY!r} if m in sys.modules) or 'none')",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    print(f"studybot --help: {help_cpu:.3f} s CPU (median of {RUNS}); target < 0.300 s")
    print(f"bare python:     {python_cpu:.3f} s CPU; --help costs {help_cpu / python_cpu:.1f}x")
    print(f"heavy modules imported by `import bot.cli`: {loaded}")


if __name__ == "__main__":
    main()
