"""The day plan parser keeps every question and untangles titles glued to their tags."""

from __future__ import annotations

import re

import pytest

from content.errors import ContentError
from content.parsing.dayplan import drill_slug, parse_day_plan, split_item_heading
from content.schema import DayPlan
from tests.content.conftest import DAY_SOURCES

CATEGORIES = ["ML System Design", "LLMOps", "MLOps", "Infra", "DSA"]


@pytest.mark.parametrize("day", sorted(DAY_SOURCES))
def test_every_numbered_question_is_kept_in_order(
    day: int, parsed_days: dict[int, DayPlan]
) -> None:
    raw = DAY_SOURCES[day].read_text(encoding="utf-8")
    numbered = [m.group(1) for m in re.finditer(r"^\s+[0-9]+\. (.+)$", raw, re.MULTILINE)]
    plan = parsed_days[day]
    assert [q.text for q in plan.questions] == numbered
    assert [q.id for q in plan.questions] == [
        f"D{day:03d}-{k:02d}" for k in range(1, len(numbered) + 1)
    ]
    bullets = len(re.findall(r"^\s*• ", raw, re.MULTILINE))
    assert sum(len(t.items) for t in plan.tracks) == bullets


def test_question_counts_of_the_three_authored_days(parsed_days: dict[int, DayPlan]) -> None:
    assert {day: len(plan.questions) for day, plan in parsed_days.items()} == {
        121: 19,
        98: 18,
        97: 20,
    }


def test_header_title_theme_and_tracks(parsed_days: dict[int, DayPlan]) -> None:
    plan = parsed_days[121]
    assert (plan.day, plan.total_days) == (121, 133)
    assert plan.title == "Multi-model routing & cascades + DSA review"
    assert plan.theme == "Cheap-then-expensive; verifier models; budget-aware routing."
    assert [t.name for t in plan.tracks] == [
        "DSA · NeetCode Backtracking",
        "ML System Design · Cross-cutting trade-offs",
        "LLMOps · Caching, routing, cost",
    ]
    assert plan.tracks[1].category == "ML System Design"
    assert plan.tracks[1].topic == "Cross-cutting trade-offs"
    # The trailing "References & further reading" heading is not a track.
    assert plan.references == []
    assert (
        parsed_days[97].theme
        == "Self-mock 30-min: 'serve a 70B model at 100 QPS, $X budget, P99 < Y'."
    )


def test_items_split_titles_tags_and_sources(parsed_days: dict[int, DayPlan]) -> None:
    items = [item for track in parsed_days[121].tracks for item in track.items]
    titled = [(i.kind, i.title, i.tag, i.source) for i in items if i.title]
    assert titled == [
        ("dsa", "Word Search", "DSA · Backtracking", None),
        ("topic", "Multi-model routing & cascades", "ML System Design", "Anyscale"),
        ("topic", "Prompt caching & semantic caching", "ML System Design", "Anthropic"),
    ]
    untitled = [i for i in items if i.title is None]
    assert len(untitled) == 6 and {i.kind for i in untitled} == {"prompts"}
    assert sum(len(i.questions) for i in untitled) == 19 - 6


def test_dsa_items_name_their_code_drill(parsed_days: dict[int, DayPlan]) -> None:
    assert [(i.title, i.drill) for i in parsed_days[121].dsa_items] == [
        ("Word Search", "word_search")
    ]
    assert [(i.title, i.drill) for i in parsed_days[97].dsa_items] == [
        ("Interleaving String", "interleaving_string")
    ]
    # Day 98's greedy track has prompts only, no named problem.
    assert parsed_days[98].dsa_items == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Word SearchDSA · Backtracking", ("Word Search", "DSA · Backtracking", None)),
        ("Interleaving StringDSA · 2-D DP", ("Interleaving String", "DSA · 2-D DP", None)),
        (
            "Multi-model routing & cascadesML System DesignAnyscale",
            ("Multi-model routing & cascades", "ML System Design", "Anyscale"),
        ),
        ("Course VideoDSA · GraphsNeetCode", ("Course Video", "DSA · Graphs", "NeetCode")),
        ("ML System DesignAnthropic", (None, "ML System Design", "Anthropic")),
        # A category word inside the title, preceded by a space, stays part of the title.
        ("Intro to MLOps practiceMLOps", ("Intro to MLOps practice", "MLOps", None)),
        ("A title with no tag", ("A title with no tag", None, None)),
    ],
)
def test_split_item_heading_cases(line: str, expected: tuple[str | None, ...]) -> None:
    assert split_item_heading(line, CATEGORIES) == expected


def test_drill_slug() -> None:
    assert drill_slug("Word Search") == "word_search"
    assert drill_slug("Best Time to Buy & Sell Stock II") == "best_time_to_buy_sell_stock_ii"


def test_a_new_category_from_a_track_heading_is_recognised_in_items() -> None:
    text = (
        "Day 3 of 10\n\nTitle\n\nTheme\n\nQuantum · Basics\n\n"
        "  • QubitsQuantum · Gates\n\n    Interview questions to prep\n\n    1. What is a qubit?\n"
    )
    plan = parse_day_plan(text)
    item = plan.tracks[0].items[0]
    assert (item.title, item.tag, item.kind) == ("Qubits", "Quantum · Gates", "topic")


def test_a_plan_without_a_theme_and_with_references() -> None:
    text = (
        "Day 2 of 10\n\nOnly a title\n\nDSA · Arrays\n\n  • Interview questions to prep\n\n"
        "    1. Why?\n\nReferences & further reading\n\n  • Some book\n"
    )
    plan = parse_day_plan(text)
    assert (plan.title, plan.theme) == ("Only a title", None)
    assert plan.references == ["Some book"]
    assert [q.text for q in plan.questions] == ["Why?"]


def test_text_that_cannot_be_placed_is_an_error_with_its_line() -> None:
    text = (
        "Day 2 of 10\n\nTitle\n\nDSA · Arrays\n\n"
        "  • Interview questions to prep\n\n    stray text\n"
    )
    with pytest.raises(ContentError, match="line 9: cannot place 'stray text'"):
        parse_day_plan(text)


def test_a_day_outside_the_curriculum_is_rejected() -> None:
    with pytest.raises(ValueError, match="day 12 is outside 1..10"):
        parse_day_plan("Day 12 of 10\n\nTitle\n")
