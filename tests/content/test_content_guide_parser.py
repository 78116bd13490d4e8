"""The interview guide parser keeps every phase, table row, list item and answer."""

from __future__ import annotations

import re

import pytest

from content.errors import ContentError
from content.parsing.guide import parse_guide
from content.schema import InterviewGuide


def _table_rows(text: str, header_start: str) -> int:
    """Count the body rows of the Markdown table whose header starts with `header_start`."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_start} |"))
    count = 0
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        count += 1
    return count


def _list_after(text: str, heading: str) -> int:
    lines = text.splitlines()
    start = lines.index(heading)
    count = 0
    for line in lines[start + 1 :]:
        if line.startswith("#"):
            break
        if re.match(r"^(- |[0-9]+\. )", line):
            count += 1
    return count


def test_phases_follow_the_time_allocation_table(parsed_guide: InterviewGuide) -> None:
    assert parsed_guide.duration_minutes == 45
    assert [(p.name, p.start_minute, p.end_minute) for p in parsed_guide.phases] == [
        ("Clarify", 0, 5),
        ("High-Level Design", 5, 15),
        ("Deep Dive", 15, 30),
        ("Scale & Reliability", 30, 40),
        ("Wrap Up", 40, 45),
    ]
    first = parsed_guide.phases[0]
    assert first.title == "Clarification"
    assert first.focus == "Understand requirements"
    assert first.deliverables == ["Model type", "scale", "latency SLO"]
    assert parsed_guide.phases[2].deliverables == ["Batching OR A/B testing OR GPU memory"]
    assert parsed_guide.phase_at(14.9).name == "High-Level Design"
    assert parsed_guide.phase_at(45) is None


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Question", "clarifying_questions"),
        ("Topic", "scale_topics"),
        ("Trade-off", "trade_offs"),
        ("Mistake", "common_mistakes"),
        ("Metric", "key_numbers"),
        ("Aspect", "scoring_rubric"),
        ("Phase", "phases"),
    ],
)
def test_every_table_row_is_kept(
    guide_text: str, parsed_guide: InterviewGuide, header: str, field: str
) -> None:
    assert len(getattr(parsed_guide, field)) == _table_rows(guide_text, header)


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("## Questions to Ask the Interviewer", "questions_for_interviewer"),
        ("### Architecture Components Checklist", "components_checklist"),
        ("### Trade-off Decisions Checklist", "decisions_checklist"),
        ("### Red Flags", "red_flags"),
        ("### Green Flags", "green_flags"),
    ],
)
def test_every_list_item_is_kept(
    guide_text: str, parsed_guide: InterviewGuide, heading: str, field: str
) -> None:
    assert len(getattr(parsed_guide, field)) == _list_after(guide_text, heading)


def test_table_cells_are_read_without_markup(parsed_guide: InterviewGuide) -> None:
    question = parsed_guide.clarifying_questions[2]
    assert (question.question, question.why, question.expected_answers) == (
        "Expected QPS at peak?",
        "Scaling strategy",
        "100 → simple, 100K → distributed",
    )
    assert parsed_guide.trade_offs[0].name == "Latency vs Throughput"
    assert parsed_guide.trade_offs[0].recommendation == "Dynamic batching with timeout"
    error_budget = parsed_guide.key_numbers[-1]
    assert (error_budget.metric, error_budget.value, error_budget.context) == (
        "Error Budget",
        "52.6 min/year",
        "99.99% availability",
    )
    rubric = {a.aspect: a for a in parsed_guide.scoring_rubric}
    assert rubric["Batching"].great == "Explains continuous batching, PagedAttention"
    assert parsed_guide.common_mistakes[2].better_approach == "Warm-up → canary → gradual rollout"
    assert parsed_guide.scale_topics[4].numbers == "Alert if PSI > 0.2"


def test_deep_dive_options_and_whiteboards(parsed_guide: InterviewGuide) -> None:
    options = parsed_guide.deep_dive_options
    assert [(o.letter, o.title) for o in options] == [
        ("A", "Dynamic Batching"),
        ("B", "A/B Testing"),
        ("C", "GPU Memory"),
    ]
    assert [len(o.key_points) for o in options] == [4, 4, 4]
    assert options[0].follow_up_points == [
        "Continuous batching for LLMs (iteration-level scheduling)",
        "PagedAttention for memory efficiency",
        "vLLM's approach: 5-10x throughput improvement",
    ]
    assert options[0].whiteboard is not None
    assert options[0].whiteboard.startswith("Dynamic Batching Algorithm:")
    assert "Config: MAX_BATCH_SIZE=32, MAX_WAIT_TIME=50ms" in options[0].whiteboard
    assert options[2].whiteboard is not None and "= 20.97 MB/token" in options[2].whiteboard
    assert (
        parsed_guide.deep_dive_intro
        == "Choose ONE area based on interviewer interest or your strength"
    )


def test_phase_details_failures_and_wrap_up(parsed_guide: InterviewGuide) -> None:
    assert [k.name for k in parsed_guide.design_key_points][:2] == ["Gateway Layer", "A/B Router"]
    assert len(parsed_guide.design_key_points) == 7
    assert parsed_guide.architecture_diagram.splitlines()[0].startswith("┌")
    assert "Clients ──► Load Balancer" in parsed_guide.architecture_diagram
    assert parsed_guide.sample_dialogue.startswith("Before I start designing")
    assert [(s.name, len(s.steps)) for s in parsed_guide.failure_scenarios] == [
        ("GPU Failure", 5),
        ("Model Corruption", 4),
    ]
    assert parsed_guide.failure_scenarios[1].steps[2] == "Rollback to last known good version"
    assert parsed_guide.wrap_up_template.startswith("To summarize, we designed")
    assert parsed_guide.wrap_up_template.endswith("as models degrade over time.")
    assert [d.title for d in parsed_guide.trade_off_deep_dives] == ["Batching"]
    assert "25x savings" in parsed_guide.trade_off_deep_dives[0].text


def test_trap_questions_keep_bad_and_good_answers(parsed_guide: InterviewGuide) -> None:
    traps = parsed_guide.trap_questions
    assert [t.number for t in traps] == [1, 2, 3, 4, 5]
    assert traps[0].question == "Why not just deploy models as regular microservices?"
    assert traps[0].bad_answer == "Yeah, we can just containerize the model and deploy it."
    assert traps[0].good_answer.startswith("ML models have fundamentally different characteristics")
    assert traps[0].good_answer.endswith("specialized ML serving infrastructure.")
    assert "1. **GPU Requirements**" in traps[0].good_answer
    assert traps[4].bad_answer == "We run it for a week and see what happens."
    assert "~31,000 samples per variant" in traps[4].good_answer


def test_a_guide_missing_its_pacing_table_is_an_error() -> None:
    with pytest.raises(ContentError, match="no table with columns Phase"):
        parse_guide("# Interview Guide\n\n## Nothing here\n")
