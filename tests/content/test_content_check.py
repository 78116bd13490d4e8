"""`content check` passes on the shipped data and names file and line of each problem."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from content.cli import app
from content.errors import ContentError
from content.library import load_library
from content.validation import check_data_dir

runner = CliRunner()


def _replace(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_shipped_data_passes(data_copy: Path) -> None:
    assert check_data_dir(data_copy) == []
    result = runner.invoke(app, ["check", "--data-dir", str(data_copy)])
    assert result.exit_code == 0
    assert "content ok" in result.output


def test_yaml_syntax_error_is_reported_with_file_and_line(data_copy: Path) -> None:
    path = data_copy / "bank" / "e03.yaml"
    line = _line_of(path, "- id: E3-082")
    _replace(path, "- id: E3-082", "- id: [E3-082")
    issues = check_data_dir(data_copy)
    assert len(issues) == 1
    assert issues[0].path == str(path)
    assert "invalid YAML" in issues[0].message
    assert abs(issues[0].line - line) <= 2


def test_duplicate_ids_are_reported_at_the_second_occurrence(data_copy: Path) -> None:
    path = data_copy / "bank" / "e03.yaml"
    _replace(
        path, "- id: E3-083\n  section: 3\n  number: 83", "- id: E3-082\n  section: 3\n  number: 82"
    )
    issues = [i for i in check_data_dir(data_copy) if "duplicate" in i.message]
    assert len(issues) == 1
    assert issues[0].line == _line_of(path, "- id: E3-082") + _count_after_first(
        path, "- id: E3-082"
    )
    assert re.search(r"duplicate id E3-082 \(first at .*e03.yaml:[0-9]+\)", issues[0].message)


def _count_after_first(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if needle in line)
    second = next(i for i, line in enumerate(lines) if needle in line and i > first)
    return second - first


def test_an_emptied_rubric_whose_source_had_one_is_an_error(data_copy: Path) -> None:
    path = data_copy / "bank" / "e01.yaml"
    text = path.read_text(encoding="utf-8")
    start = text.index("- id: E1-003")
    rubric = text.index("  rubric:\n", start)
    end = text.index("  solution_sketch:", rubric)
    path.write_text(text[:rubric] + "  rubric: []\n" + text[end:], encoding="utf-8")
    issues = check_data_dir(data_copy)
    assert [i.message for i in issues] == [
        "E1-003 has an empty rubric although its source had one (want_to_hear)"
    ]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[issues[0].line - 1].strip() == "rubric: []"


def test_a_day_outside_the_curriculum_is_an_error_on_its_day_line(data_copy: Path) -> None:
    path = data_copy / "plans" / "day097.yaml"
    _replace(path, "day: 97\n", "day: 140\n")
    issues = check_data_dir(data_copy)
    assert len(issues) == 1
    assert issues[0].message == "day 140 is outside 1..133"
    assert issues[0].line == _line_of(path, "day: 140")


def test_a_wrong_type_is_a_schema_error_with_its_location(data_copy: Path) -> None:
    path = data_copy / "bank" / "e05.yaml"
    _replace(path, "  number: 191\n", "  number: '191'\n")
    issues = check_data_dir(data_copy)
    assert len(issues) == 1
    assert issues[0].line == _line_of(path, "number: '191'")
    assert issues[0].message.startswith("questions[0].number: Input should be a valid integer")


def test_an_unknown_key_and_a_bad_difficulty_are_both_reported(data_copy: Path) -> None:
    path = data_copy / "bank" / "e02.yaml"
    _replace(path, "  difficulty: M\n", "  difficulty: X\n  colour: red\n")
    messages = [i.message for i in check_data_dir(data_copy)]
    assert any(
        m.startswith("questions[0].difficulty: Input should be 'W', 'M', 'H' or 'S'")
        for m in messages
    )
    assert any(
        m.startswith("questions[0].colour: Extra inputs are not permitted") for m in messages
    )


def test_a_link_to_an_unknown_bank_question_is_an_error(data_copy: Path) -> None:
    path = data_copy / "plans" / "day097.yaml"
    _replace(path, "bank_id: E3-084", "bank_id: E3-999")
    issues = check_data_dir(data_copy)
    assert [i.message for i in issues] == ["D097-16 links to unknown question E3-999"]
    assert issues[0].line == _line_of(path, "bank_id: E3-999")


def test_a_shuffled_day_question_id_is_an_error(data_copy: Path) -> None:
    path = data_copy / "plans" / "day098.yaml"
    _replace(path, "- id: D098-02", "- id: D098-07")
    issues = check_data_dir(data_copy)
    assert len(issues) == 1
    assert "'D098-07' should be 'D098-02'" in issues[0].message
    assert issues[0].line == _line_of(path, "- id: D098-07")


def test_a_broken_override_is_reported_too(data_copy: Path) -> None:
    (data_copy / "days" / "day005.yaml").write_text(
        "title: Broken\ntracks:\n  - name: X\n    items:\n      - kind: sideways\n",
        encoding="utf-8",
    )
    (data_copy / "days" / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    issues = check_data_dir(data_copy)
    messages = sorted(f"{Path(i.path).name}:{i.line}: {i.message}" for i in issues)
    assert messages[0].startswith("day005.yaml:5: tracks[0].items[0].kind: Input should be")
    assert messages[1] == "notes.yaml:1: override files are named dayNNN.yaml, e.g. day005.yaml"


def test_cli_check_exits_1_and_prints_each_problem(data_copy: Path) -> None:
    path = data_copy / "plans" / "day121.yaml"
    _replace(path, "day: 121\n", "day: 0\n")
    result = runner.invoke(app, ["check", "--data-dir", str(data_copy)])
    assert result.exit_code == 1
    assert f"{path.name}:" in result.output
    assert "problem(s) found" in result.output
    assert "Traceback" not in result.output


def test_loading_broken_content_raises_a_content_error_pointing_to_check(data_copy: Path) -> None:
    _replace(data_copy / "plans" / "day121.yaml", "day: 121\n", "day: 0\n")
    with pytest.raises(ContentError, match=r"1 error\(s\), first .*day121.yaml:[0-9]+: day 0 is"):
        load_library(data_copy)
    result = runner.invoke(app, ["stats", "--data-dir", str(data_copy)])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "run `studybot content check`" in result.output


def test_an_override_naming_an_unknown_bank_question_says_so(data_copy: Path) -> None:
    path = data_copy / "days" / "day007.yaml"
    path.write_text(
        "title: x\ntracks:\n  - name: T\n    items:\n      - kind: topic\n"
        "        questions:\n          - bank_id: E3-999\n",
        encoding="utf-8",
    )
    issues = check_data_dir(data_copy)
    assert [(i.line, i.message) for i in issues] == [(7, "E3-999 links to unknown question E3-999")]
