"""Dependency arrows: core code never imports a chat SDK; packages below bot never import it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ["bot/services", "bot/domain", "bot/store", "content", "graders", "gpu_runner"]
FORBIDDEN_EVERYWHERE = {"discord", "slack_bolt", "slack_sdk"}
NO_BOT = ["content", "graders", "gpu_runner"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


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


def test_the_rule_catches_an_offender(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from discord import app_commands\nimport slack_bolt.app\n")
    assert _imports(bad) & FORBIDDEN_EVERYWHERE == {"discord", "slack_bolt"}
