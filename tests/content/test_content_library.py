"""The library resolves every day, finds questions and rubrics, and honours overrides."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from content import ContentError, Library, ResolvedDayQuestion, load_library
from content.generation import build_schedule
from content.schema import Question


def test_load_library_is_cached_per_path(library: Library, data_copy: Path) -> None:
    assert load_library() is library
    assert load_library(data_copy) is load_library(data_copy)
    assert load_library(data_copy) is not library


def test_every_day_resolves_and_serialises(library: Library) -> None:
    assert library.days_total == 133
    plans = library.days()
    assert [p.day for p in plans] == list(range(1, 134))
    for plan in plans:
        assert plan.total_days == 133
        assert plan.title and plan.questions
        json.dumps(plan.model_dump(mode="json"))
    origins = Counter(p.origin for p in plans)
    assert origins == {"generated": 130, "authored": 3}
    assert {p.day for p in plans if not p.generated} == {97, 98, 121}
    assert library.day(97) is library.authored[97]


@pytest.mark.parametrize("day", [0, 134, -1])
def test_days_outside_the_curriculum_raise_a_readable_error(library: Library, day: int) -> None:
    with pytest.raises(
        ContentError, match=rf"Day {day} is outside the curriculum: days run from 1 to 133"
    ):
        library.day(day)


def test_generated_days_cover_the_whole_bank(library: Library) -> None:
    generated = [library.day(n) for n in range(1, 134) if n not in (97, 98, 121)]
    asked = [q.bank_id for plan in generated for q in plan.questions]
    assert set(asked) == set(library.questions)
    # "About once": every entry exactly once.
    assert len(asked) == len(library.questions)
    for plan in generated:
        for question in plan.questions:
            assert question.id == question.bank_id
            assert question.match_method == "bank" and question.match_confidence == 1.0
            assert question.text == library.questions[question.id].text


def test_generated_days_mix_difficulties_and_follow_chapter_order(library: Library) -> None:
    generated = [library.day(n) for n in range(1, 134) if n not in (97, 98, 121)]
    concept_per_day = []
    for plan in generated:
        concept = [
            library.questions[q.id]
            for q in plan.questions
            if library.questions[q.id].kind == "concept"
        ]
        concept_per_day.append(concept)
        assert 3 <= len(concept) <= 4
        assert len({q.difficulty for q in concept}) >= 2, plan.day
        assert len({q.section for q in concept}) == 1
    # Sections are visited in order, E.1 first and E.11 last.
    sections = [day[0].section for day in concept_per_day]
    assert sections == sorted(sections) and sections[0] == 1 and sections[-1] == 11
    # Within a section the chapters move forward: the first day's mean chapter is below the last's.
    for section in range(1, 12):
        days = [d for d in concept_per_day if d[0].section == section]
        first = sum(q.chapter or 0 for q in days[0]) / len(days[0])
        last = sum(q.chapter or 0 for q in days[-1]) / len(days[-1])
        assert first <= last, section


def test_a_behavioral_story_every_week_and_coding_on_some_days(library: Library) -> None:
    kinds_by_day = {
        n: [library.questions[q.id].kind for q in library.day(n).questions]
        for n in range(1, 134)
        if n not in (97, 98, 121)
    }
    for week_start in range(1, 134, 7):
        week = [d for d in kinds_by_day if week_start <= d < week_start + 7]
        assert any("behavioral" in kinds_by_day[d] for d in week), week_start
    coding_days = [d for d, kinds in kinds_by_day.items() if "coding" in kinds]
    assert 30 <= len(coding_days) <= 45
    # Spread evenly over the generated days: at most 4 generated days apart.
    free = sorted(kinds_by_day)
    positions = [free.index(d) for d in coding_days]
    gaps = [b - a for a, b in zip(positions, positions[1:], strict=False)]
    assert max(gaps) <= 4


def test_generated_plans_name_their_section_and_chapters(library: Library) -> None:
    plan = library.day(1)
    assert plan.generated
    assert plan.title.startswith("ML foundations · Chapter")
    assert plan.theme.startswith("From the question bank: ")
    assert plan.tracks[0].name == "E.1 ML foundations"
    assert plan.tracks[0].items[0].kind == "bank"


def test_the_schedule_is_deterministic_and_independent_of_input_order(library: Library) -> None:
    questions = list(library.questions.values())
    forward = build_schedule(questions, 133, [97, 98, 121])
    backward = build_schedule(list(reversed(questions)), 133, [121, 98, 97])
    assert forward == backward == library.schedule


def test_schedule_with_more_stories_than_weeks_still_covers_everything(library: Library) -> None:
    questions = list(library.questions.values())
    schedule = build_schedule(questions, 20, [])
    assert schedule.covered() == set(library.questions)
    assert set(schedule.days) == set(range(1, 21))


def test_question_lookup_normalises_ids_and_suggests_close_ones(library: Library) -> None:
    assert library.question("e3-82").id == "E3-082"
    assert library.question(" E11-501 ").text.startswith("What is a CUDA warp")
    with pytest.raises(
        ContentError, match=r"There is no question 'E3-982'\. Did you mean .*E3-082"
    ):
        library.question("E3-982")
    with pytest.raises(ContentError, match="There is no question 'hello'"):
        library.find_question("hello")


def test_rubric_for_bank_ids_and_linked_day_questions(library: Library) -> None:
    assert library.rubric_for("E3-082") == library.questions["E3-082"].rubric
    assert library.rubric_for("D097-16") == library.questions["E3-084"].rubric
    assert library.rubric_for("D121-01") == []
    # A D-id also names the k-th question of a generated day.
    first_generated = library.day(1).questions[1]
    assert library.rubric_for("D001-02") == library.questions[first_generated.id].rubric


def test_find_question_returns_bank_questions_or_resolved_day_questions(library: Library) -> None:
    bank = library.find_question("E12-466")
    assert isinstance(bank, Question) and bank.kind == "coding"
    resolved = library.find_question("d121-15")
    assert isinstance(resolved, ResolvedDayQuestion)
    assert (resolved.id, resolved.day, resolved.bank_id) == ("D121-15", 121, "E3-085")
    assert resolved.match_method == "lexical" and resolved.match_confidence is not None
    assert resolved.has_rubric and resolved.bank is not None
    unmatched = library.find_question("D098-01")
    assert isinstance(unmatched, ResolvedDayQuestion)
    assert unmatched.bank is None and unmatched.rubric == [] and unmatched.match_method == "none"
    with pytest.raises(ContentError):
        library.find_question("D098-40")


def test_grading_points_fall_back_to_sketch_then_testing_note(library: Library) -> None:
    assert library.grading_points_for("E12-466") == [library.questions["E12-466"].solution_sketch]
    assert library.grading_points_for("E1-003") == library.questions["E1-003"].rubric
    assert library.grading_points_for("D121-01") == []
    # D121-17 links to a warm-up entry without bullets: its testing note is what is left.
    assert library.rubric_for("D121-17") == []
    assert library.grading_points_for("D121-17") == ["TTFT vs TBT decomposition"]


def test_dsa_items_expose_their_drills(library: Library) -> None:
    assert [i.drill for i in library.day(121).dsa_items] == ["word_search"]
    assert [i.drill for i in library.day(97).dsa_items] == ["interleaving_string"]


def test_guide_phases_for_the_mock_timer(library: Library) -> None:
    phases = library.guide.phases
    assert [(p.name, p.start_minute, p.end_minute) for p in phases][0] == ("Clarify", 0, 5)
    assert phases[-1].end_minute == library.guide.duration_minutes == 45
    assert all(p.focus and p.deliverables for p in phases)


def test_an_override_wins_and_is_read_without_a_restart(data_copy: Path) -> None:
    library = load_library(data_copy)
    generated = library.day(5)
    override = data_copy / "days" / "day005.yaml"
    override.write_text(
        "day: 5\n"
        "title: Attention, two ways\n"
        "tracks:\n"
        "  - name: ML Foundations · Attention\n"
        "    items:\n"
        "      - kind: topic\n"
        "        title: Scaled dot-product attention\n"
        "        questions:\n"
        "          - bank_id: E1-008\n"
        "          - text: How does continuous batching beat static batching for LLM serving?\n"
        "          - text: Walk through DFS with a visited marker on the board.\n"
        "          - text: Derive the KV cache size for a 7B model.\n"
        "            bank_id: E3-082\n",
        encoding="utf-8",
    )
    plan = library.day(5)
    assert plan.origin == "override" and plan.title == "Attention, two ways"
    assert plan.total_days == 133
    ids = [(q.id, q.bank_id, q.match_method) for q in plan.questions]
    assert ids == [
        ("E1-008", "E1-008", "bank"),
        ("D005-02", "E3-084", "lexical"),
        ("D005-03", None, "none"),
        ("D005-04", "E3-082", "manual"),
    ]
    assert plan.questions[0].text == library.questions["E1-008"].text
    assert library.rubric_for("D005-04") == library.questions["E3-082"].rubric
    # Removing the file brings the generated plan back; an edit is picked up too.
    override.unlink()
    assert library.day(5) == generated


def test_the_override_readme_example_is_valid(data_copy: Path) -> None:
    readme = (data_copy / "days" / "README.md").read_text(encoding="utf-8")
    example = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    (data_copy / "days" / "day005.yaml").write_text(example, encoding="utf-8")
    plan = load_library(data_copy).day(5)
    assert plan.origin == "override"
    assert [i.drill for i in plan.dsa_items] == ["word_search"]


def test_an_invalid_override_raises_a_content_error_for_that_day_only(data_copy: Path) -> None:
    (data_copy / "days" / "day006.yaml").write_text("day: 6\ntitle: [broken\n", encoding="utf-8")
    library = load_library(data_copy)
    with pytest.raises(
        ContentError, match=r"The override for day 6 is invalid: .*day006.yaml:[0-9]+"
    ):
        library.day(6)
    assert library.day(7).generated


def test_an_edited_override_is_reread(data_copy: Path) -> None:
    path = data_copy / "days" / "day010.yaml"
    path.write_text("title: First\ntracks: []\n", encoding="utf-8")
    library = load_library(data_copy)
    assert library.day(10).title == "First"
    path.write_text("title: Second version\ntracks: []\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert library.day(10).title == "Second version"
