"""Counts over the content library, for `studybot content stats`."""

from __future__ import annotations

from collections import Counter
from typing import Any

from content.library import Library


def content_stats(library: Library) -> dict[str, Any]:
    """Return counts per section, difficulty and kind, rubric coverage and day provenance."""
    questions = list(library.questions.values())
    days = library.days()
    origins = Counter(plan.origin for plan in days)
    authored_questions = [q for plan in library.authored.values() for q in plan.questions]
    difficulty = Counter(q.difficulty for q in questions)
    kinds = Counter(q.kind for q in questions)
    return {
        "questions": len(questions),
        "questions_with_rubric": sum(1 for q in questions if q.rubric),
        "rubric_points": sum(len(q.rubric) for q in questions),
        "coding_with_solution_sketch": sum(1 for q in questions if q.solution_sketch),
        "sections": [
            {
                "section": section.code,
                "title": section.title,
                "questions": sum(1 for q in questions if q.section == section.number),
                "rubric_points": sum(
                    len(q.rubric) for q in questions if q.section == section.number
                ),
            }
            for section in library.sections
        ],
        "difficulty": {level: difficulty.get(level, 0) for level in ("W", "M", "H", "S")},
        "kind": {kind: kinds.get(kind, 0) for kind in ("concept", "coding", "behavioral")},
        "days_total": library.days_total,
        "days_authored": len(library.authored),
        "days_generated": origins.get("generated", 0),
        "days_overridden": origins.get("override", 0),
        "authored_day_questions": len(authored_questions),
        "authored_day_questions_linked": sum(1 for q in authored_questions if q.linked),
        "guide_phases": len(library.guide.phases),
    }
