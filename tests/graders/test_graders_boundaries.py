"""The graders package stands alone: no bot, no content, no chat platform."""

from __future__ import annotations

import ast
from pathlib import Path

import graders

FORBIDDEN = {"bot", "content", "discord", "slack_bolt", "slack_sdk", "sqlmodel", "sqlalchemy"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_graders_imports_nothing_from_the_bot_content_or_platforms() -> None:
    package = Path(graders.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert len(modules) >= 10
    for module in modules:
        assert not imported_roots(module) & FORBIDDEN, module.name


def test_the_package_is_typed() -> None:
    assert (Path(graders.__file__).parent / "py.typed").exists()
