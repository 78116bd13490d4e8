"""A runner node installs `studybot[runner]`: no chat SDK, no database driver."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
BOT_ONLY = {"discord.py", "slack-bolt", "slack-sdk", "sqlmodel", "sqlalchemy", "asyncpg", "alembic"}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[<>=!~ ;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_the_runner_extra_pulls_in_no_chat_or_database_client() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    extras = project["optional-dependencies"]
    runner_node = _names(project["dependencies"]) | _names(extras["runner"])
    assert runner_node & BOT_ONLY == set()
    assert {"celery", "torch"} <= runner_node
    assert BOT_ONLY <= _names(extras["bot"])
    # `make run`, `make test` and the bot's image install `all`, which holds the bot.
    assert "bot" in extras["all"][0] and "runner" in extras["all"][0]
