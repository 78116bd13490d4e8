"""The content commands: import, check, stats --json, question; clean errors, exit codes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from content.cli import app, question_command
from tests.content.conftest import SOURCES

runner = CliRunner()
PACKAGE = Path(__file__).resolve().parents[2] / "content"


def test_stats_json_has_the_contract_keys_and_counts() -> None:
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    assert {"questions", "rubric_points", "sections", "days_authored", "days_total"} <= set(stats)
    assert stats["questions"] == 535
    assert stats["rubric_points"] == 997
    assert stats["questions_with_rubric"] == 344
    assert stats["days_authored"] == 3 and stats["days_total"] == 133
    assert stats["days_generated"] == 130
    assert stats["difficulty"] == {"W": 151, "M": 198, "H": 185, "S": 1}
    assert stats["kind"] == {"concept": 470, "coding": 40, "behavioral": 25}
    assert [s["questions"] for s in stats["sections"]] == [
        40,
        40,
        60,
        50,
        40,
        30,
        50,
        25,
        40,
        40,
        55,
        40,
        25,
    ]
    assert stats["authored_day_questions"] == 57


def test_stats_as_text() -> None:
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 0
    assert "535 questions (344 with a rubric, 997 rubric points)" in result.output
    assert "133 days: 3 authored, 130 generated, 0 overridden" in result.output


def test_import_into_a_directory_then_check_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    files = [str(p) for p in sorted(SOURCES.glob("*.txt"))]
    result = runner.invoke(app, ["import", *files, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "003_4d8460069ea9ea70.txt: bank" in result.output
    assert "535 questions, 997 rubric points, 57 day questions" in result.output
    checked = runner.invoke(app, ["check", "--data-dir", str(out)])
    assert checked.exit_code == 0, checked.output


def test_import_of_an_unknown_file_fails_with_one_line(tmp_path: Path) -> None:
    stray = tmp_path / "notes.txt"
    stray.write_text("nothing to see\n", encoding="utf-8")
    result = runner.invoke(app, ["import", str(stray), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("error: ")
    assert "Traceback" not in result.output
    missing = runner.invoke(app, ["import", str(tmp_path / "absent.txt"), "--out", str(tmp_path)])
    assert missing.exit_code == 1 and "cannot read the file" in missing.output


def test_question_shows_a_bank_question_with_its_rubric() -> None:
    result = runner.invoke(app, ["question", "E3-082"])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "E3-082  [M] medium · MLS · concept"
    assert "Chapter 22 · tests: inference memory math · OpenAI, Meta" in result.output
    assert "  - Formula: 2 × n_layers × n_kv_heads × d_head × bytes_per_element × n_tokens" in lines


def test_question_json_for_a_day_question() -> None:
    result = runner.invoke(app, ["question", "D097-12", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["type"] == "day"
    assert data["bank_id"] == "E1-028" and data["match_method"] == "lexical"
    assert len(data["rubric"]) == 3


def test_question_for_an_unmatched_day_question_says_so() -> None:
    result = runner.invoke(app, ["question", "D121-01"])
    assert result.exit_code == 0
    assert "No rubric: no bank question matches this one closely enough." in result.output


def test_question_command_is_a_plain_function_that_exits_1_on_unknown_ids(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(typer.Exit) as raised:
        question_command("E99-999", json=False)
    assert raised.value.exit_code == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("error: There is no question 'E99-999'")
    question_command("e12-501", json=True)
    assert json.loads(capsys.readouterr().out)["id"] == "E12-501"


def _imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_content_package_stays_independent() -> None:
    forbidden = {
        "bot",
        "graders",
        "gpu_runner",
        "discord",
        "slack_bolt",
        "torch",
        "sentence_transformers",
    }
    for path in sorted(PACKAGE.rglob("*.py")):
        assert not (_imports_of(path) & forbidden), path
