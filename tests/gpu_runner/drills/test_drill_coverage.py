"""Every E.12 coding question has a drill, or is named as answered in prose (pseudo-code)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gpu_runner.drills import DRILLS, PROSE_QUESTIONS

ROOT = Path(__file__).resolve().parents[3]


def _e12_numbers() -> set[int]:
    bank = yaml.safe_load((ROOT / "content/data/bank/e12.yaml").read_text())
    items = bank if isinstance(bank, list) else bank.get("questions", [])
    return {int(q["number"]) for q in items if q.get("kind") == "coding"}


def test_every_e12_coding_question_has_a_drill_or_is_prose() -> None:
    numbers = _e12_numbers()
    assert len(numbers) == 40
    drilled = {n for drill in DRILLS.values() for n in drill.bank_questions}
    assert numbers - drilled == set(PROSE_QUESTIONS)
    assert not drilled & set(PROSE_QUESTIONS)
    assert drilled <= numbers


def test_prose_questions_have_sketch_points_to_be_graded_against() -> None:
    points = yaml.safe_load((ROOT / "content/data/sketch_points.yaml").read_text())["points"]
    for number in PROSE_QUESTIONS:
        assert len(points[f"E12-{number}"]) >= 3
