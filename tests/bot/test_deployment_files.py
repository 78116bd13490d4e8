"""compose.yaml, the Dockerfile and the example env files name only what exists."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic_settings import BaseSettings

from bot.cli import LAZY_COMMANDS, app
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# Variables compose or the images read themselves, not StudyBot.
FOREIGN_VARS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "PATH", "PYTHONUNBUFFERED"}


def known_settings() -> set[str]:
    """Every environment variable the settings read."""
    names: set[str] = set()

    def walk(model: type[BaseSettings]) -> None:
        prefix = str(model.model_config.get("env_prefix", "")).upper()
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
                walk(annotation)
            else:
                names.add(prefix + name.upper())

    walk(Settings)
    return names


def cli_paths() -> set[tuple[str, ...]]:
    """Every command path `studybot` accepts, lazily mounted groups included."""
    root = typer.main.get_command(app)
    paths: set[tuple[str, ...]] = set()

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        paths.add(prefix)
        if hasattr(command, "list_commands"):
            ctx = command.context_class(command)
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if name in LAZY_COMMANDS and not prefix:
                    from bot.cli import _load_lazy

                    sub = _load_lazy(name)
                assert sub is not None
                walk(sub, (*prefix, name))

    walk(root, ())
    return paths


def check_command(argv: list[str], paths: set[tuple[str, ...]]) -> None:
    assert argv and argv[0] == "studybot", argv
    words = [w for w in argv[1:] if not w.startswith("-")]
    longest = max(len(p) for p in paths if tuple(words[: len(p)]) == p)
    assert longest >= 1, f"{argv}: no such studybot command"


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_every_compose_command_exists_and_every_variable_is_a_setting() -> None:
    paths, settings = cli_paths(), known_settings()
    services = compose()["services"]
    ours = {name: s for name, s in services.items() if s.get("build")}
    assert {"migrate", "bot"} <= set(ours)
    for name, service in ours.items():
        command = service.get("command")
        argv = shlex.split(command) if isinstance(command, str) else list(command)
        check_command(argv, paths)
        env = service.get("environment") or {}
        keys = env if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        for key in keys:
            assert key in settings, f"{name} sets {key}, which no setting reads"


def test_every_dockerfile_command_exists_and_every_env_is_a_setting() -> None:
    paths, settings = cli_paths(), known_settings()
    text = (ROOT / "Dockerfile").read_text()
    for _kind, args in re.findall(r"^(CMD|ENTRYPOINT)\s+(.+)$", text, re.MULTILINE):
        check_command(json.loads(args), paths)
    for line in re.findall(r"^ENV\s+(.+)$", text, re.MULTILINE):
        key = re.split(r"[=\s]", line, maxsplit=1)[0]
        assert key in settings | FOREIGN_VARS, key


@pytest.mark.parametrize("example", [".env.example", ".env.local.example"])
def test_example_env_files_name_only_settings(example: str) -> None:
    settings = known_settings()
    text = (ROOT / example).read_text()
    keys = re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE)
    assert keys
    for key in keys:
        assert key in settings, f"{example} names {key}, which no setting reads"
    assert "STUDYBOT_REDIS_URL=" in text


def test_compose_example_is_for_compose_and_local_example_for_this_machine() -> None:
    compose_env = (ROOT / ".env.example").read_text()
    local_env = (ROOT / ".env.local.example").read_text()
    assert "@postgres:5432" in compose_env and "redis://redis:" in compose_env
    assert "@postgres" not in local_env and "redis://redis" not in local_env
    assert "docker compose" in compose_env.splitlines()[0]


def test_no_restart_loops_in_the_default_profile() -> None:
    services = compose()["services"]
    # The worker command is not available yet: it stays out of the default profile.
    assert services["worker"].get("profiles"), "worker would restart-loop by default"
    # The bot with no chat token must exit once with one line, not fall back to the console.
    assert "--require-chat" in services["bot"]["command"]
    assert "SLACK_BOT_TOKEN:?" in (ROOT / "compose.yaml").read_text()


def test_the_readme_commands_exist() -> None:
    paths = cli_paths()
    readme = (ROOT / "README.md").read_text()
    for line in re.findall(r"`(studybot [^`]+)`", readme):
        argv = [w for w in line.split() if not w.startswith(("<", "[", "…"))]
        argv = [w.split("|")[0] for w in argv]
        check_command(argv, paths)
