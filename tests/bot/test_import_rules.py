"""Dependency arrows: faces -> services -> domain, store; never upwards, and the domain does no I/O.

Core code never imports a chat SDK; packages below the bot never import it; services never
import a face; faces never import the store (they call a service); the domain imports nothing
that does I/O and has no coroutine.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ["bot/services", "bot/domain", "bot/store", "content", "graders", "gpu_runner"]
FORBIDDEN_EVERYWHERE = {"discord", "slack_bolt", "slack_sdk"}
NO_BOT = ["content", "graders", "gpu_runner"]
# What sits above the services: a service or the store importing one of these points upwards.
ABOVE_SERVICES = (
    "bot.platforms",
    "bot.commands",
    "bot.app",
    "bot.serve",
    "bot.cli",
    "bot.scheduling",
)
# Modules that talk to the outside world, wait, or reach the database.
IO_MODULES = (
    "aiohttp",
    "aiosqlite",
    "asyncio",
    "asyncpg",
    "httpx",
    "io",
    "os",
    "pathlib",
    "redis",
    "requests",
    "shutil",
    "socket",
    "sqlalchemy",
    "sqlmodel",
    "subprocess",
    "time",
    "urllib",
    "bot.store",
    "bot.services",
    "bot.clock",
    "bot.settings",
)
FACE_PLATFORMS = ("console", "discord", "slack", "web")


def _module_of(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _dotted_imports(path: Path, root: Path = ROOT) -> set[str]:
    """Return every module a file imports, as full dotted names (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_of(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            names.add(module)
            # `from bot import commands` imports the module bot.commands.
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _imports(path: Path, root: Path = ROOT) -> set[str]:
    return {name.split(".")[0] for name in _dotted_imports(path, root)}


def _matches(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def _offenders(folder: str, prefixes: tuple[str, ...]) -> dict[str, list[str]]:
    found = {
        str(p.relative_to(ROOT)): sorted(n for n in _dotted_imports(p) if _matches(n, prefixes))
        for p in _files(folder)
    }
    return {k: v for k, v in found.items() if v}


@pytest.mark.parametrize("folder", CORE)
def test_core_never_imports_a_chat_platform(folder: str) -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN_EVERYWHERE) for p in _files(folder)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize("folder", NO_BOT)
def test_packages_below_the_bot_never_import_it(folder: str) -> None:
    offenders = [str(p.relative_to(ROOT)) for p in _files(folder) if "bot" in _imports(p)]
    assert offenders == []


@pytest.mark.parametrize("folder", ["bot/services", "bot/store", "bot/domain"])
def test_services_store_and_domain_never_import_a_face_or_the_app(folder: str) -> None:
    assert _offenders(folder, ABOVE_SERVICES) == {}


def test_faces_never_import_the_store() -> None:
    assert _offenders("bot/platforms", ("bot.store", "sqlalchemy", "sqlmodel")) == {}


def test_the_web_face_is_held_to_the_face_rules() -> None:
    web = [p for p in _files("bot/platforms") if "web" in p.relative_to(ROOT).parts]
    assert {p.name for p in web} >= {"__init__.py", "app.py", "charts.py"}
    assert _offenders("bot/platforms/web", ("bot.store", "sqlalchemy", "sqlmodel")) == {}
    assert _platform_of("bot.platforms.web.app") == "web"


def test_the_domain_does_no_io() -> None:
    assert _offenders("bot/domain", IO_MODULES) == {}


def test_the_domain_has_no_coroutines() -> None:
    found = []
    for path in _files("bot/domain"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [
            f"{path.relative_to(ROOT)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncWith | ast.AsyncFor)
        ]
    assert found == []


def _platform_of(module: str) -> str | None:
    leaf = module.split(".")[2] if module.startswith("bot.platforms.") else ""
    return next((p for p in FACE_PLATFORMS if leaf.startswith(p)), None)


def test_no_face_imports_another() -> None:
    crossings = set()
    for path in _files("bot/platforms"):
        own = _platform_of(_module_of(path))
        for name in _dotted_imports(path):
            other = _platform_of(name)
            if own and other and other != own:
                crossings.add((str(path.relative_to(ROOT)), ".".join(name.split(".")[:3])))
    assert crossings == set()


def test_the_rules_catch_offenders(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from discord import app_commands\nimport slack_bolt.app\n"
        "import asyncio\nfrom sqlalchemy import select\nfrom bot import commands\n"
        "from bot.platforms.console import render_text\n"
    )
    names = _dotted_imports(bad, tmp_path)
    assert _imports(bad, tmp_path) & FORBIDDEN_EVERYWHERE == {"discord", "slack_bolt"}
    assert {n for n in names if _matches(n, IO_MODULES)} == {"asyncio", "sqlalchemy"} | {
        "sqlalchemy.select"
    }
    assert {n for n in names if _matches(n, ABOVE_SERVICES)} == {
        "bot.commands",
        "bot.platforms.console",
        "bot.platforms.console.render_text",
    }
    assert _platform_of("bot.platforms.slack_render") == "slack"
    assert _platform_of("bot.platforms.console") == "console"


def test_relative_imports_are_resolved(tmp_path: Path) -> None:
    pkg = tmp_path / "bot" / "domain"
    pkg.mkdir(parents=True)
    module = pkg / "rule.py"
    module.write_text("from ..store import models\nfrom . import scoring\n")
    names = _dotted_imports(module, tmp_path)
    assert "bot.store.models" in names and "bot.domain.scoring" in names
