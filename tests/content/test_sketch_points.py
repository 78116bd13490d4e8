"""Coding questions are graded against the points written from their solution sketches."""

from __future__ import annotations

import shutil
from pathlib import Path

from content import load_library
from content.library import clear_library_cache
from content.paths import DEFAULT_DATA_DIR, SKETCH_POINTS_FILE
from content.schema import Question
from content.validation import load_content


def test_every_coding_question_has_sketch_points_and_no_rubric_question_does() -> None:
    library = load_library()
    coding = [q for q in library.questions.values() if q.kind == "coding"]
    assert len(coding) == 40
    for question in coding:
        assert question.solution_sketch and not question.rubric
        points = library.rubric_for(question.id)
        assert 2 <= len(points) <= 4, question.id
        assert library.rubric_origin(question.id) == "sketch"
    assert library.rubric_origin("E3-082") == "rubric"
    assert library.rubric_for("E3-082") == list(library.question("E3-082").rubric)


def test_day_questions_linked_to_coding_questions_are_gradable() -> None:
    library = load_library()
    linked = [
        q
        for plan in library.days()
        for q in plan.questions
        if q.bank_id and library.question(q.bank_id).kind == "coding"
    ]
    assert linked, "some day posts a coding question"
    for question in linked:
        assert library.rubric_for(question.id) == library.sketch_points[question.bank_id]
        assert library.rubric_origin(question.id) == "sketch"


def _copy_data(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    return target


def test_sketch_points_for_an_unknown_or_rubric_question_are_reported(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / SKETCH_POINTS_FILE).write_text(
        "version: 1\npoints:\n  E12-999:\n    - a step\n  E3-082:\n    - another step\n"
        "  E12-466:\n    - ''\n",
        encoding="utf-8",
    )
    _, issues = load_content(data)
    text = "\n".join(str(issue) for issue in issues)
    assert "blank" in text


def test_unknown_and_shadowed_sketch_points_are_named(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / SKETCH_POINTS_FILE).write_text(
        "version: 1\npoints:\n  E12-999:\n    - a step\n  E3-082:\n    - another step\n",
        encoding="utf-8",
    )
    content, issues = load_content(data)
    text = "\n".join(str(issue) for issue in issues)
    assert "unknown question E12-999" in text
    assert "E3-082 has a rubric" in text
    assert "E3-082" not in content.sketch_points


def test_without_the_file_coding_questions_stay_self_check(tmp_path: Path) -> None:
    data = _copy_data(tmp_path)
    (data / SKETCH_POINTS_FILE).unlink()
    clear_library_cache()
    try:
        library = load_library(data)
        question = library.question("E12-466")
        assert isinstance(question, Question)
        assert library.rubric_for("E12-466") == []
        assert library.rubric_origin("E12-466") is None
    finally:
        clear_library_cache()
