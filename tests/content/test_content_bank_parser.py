"""The question bank parser keeps every entry, every rubric bullet and every field."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from content.errors import ContentError
from content.parsing.bank import ParsedBank, parse_bank


def _raw_entries(text: str) -> list[tuple[str, int, int]]:
    """Scan the raw text independently: (section, number, bullets that follow) per entry."""
    entries: list[tuple[str, int, int]] = []
    section = ""
    for line in text.splitlines():
        heading = re.match(r"^E\.([0-9]+) ", line)
        if heading:
            section = heading.group(1)
            continue
        entry = re.match(r"^([0-9]+)\. \[", line)
        if entry and section:
            entries.append((section, int(entry.group(1)), 0))
        elif line.startswith("  • ") and section and entries:
            s, n, bullets = entries[-1]
            entries[-1] = (s, n, bullets + 1)
    return entries


def test_every_bank_entry_is_parsed_once_with_a_unique_id(
    bank_text: str, parsed_bank: ParsedBank
) -> None:
    raw = _raw_entries(bank_text)
    assert len(raw) == 535
    assert len(parsed_bank.questions) == len(raw)
    ids = [q.id for q in parsed_bank.questions]
    assert len(set(ids)) == len(ids)
    assert [(str(q.section), q.number) for q in parsed_bank.questions] == [
        (s, n) for s, n, _ in raw
    ]


def test_every_rubric_bullet_is_kept_on_its_question(
    bank_text: str, parsed_bank: ParsedBank
) -> None:
    raw = _raw_entries(bank_text)
    bullets_per_entry = [bullets for _, _, bullets in raw]
    sentence_rubrics = [q for q in parsed_bank.questions if q.rubric_source == "testing_sentence"]
    for question, bullets in zip(parsed_bank.questions, bullets_per_entry, strict=True):
        if question.rubric_source == "testing_sentence":
            assert bullets == 0 and len(question.rubric) == 1
        else:
            assert len(question.rubric) == bullets, question.id
    assert sum(bullets_per_entry) == 982
    assert len(sentence_rubrics) == 15
    assert sum(len(q.rubric) for q in parsed_bank.questions) == 982 + 15
    assert Counter(len(q.rubric) for q in parsed_bank.questions if q.rubric) == {
        3: 314,
        2: 10,
        4: 5,
        1: 15,
    }


def test_sections_carry_titles_chapter_ranges_and_intros(parsed_bank: ParsedBank) -> None:
    sections = {s.number: s for s in parsed_bank.sections}
    assert sorted(sections) == list(range(1, 14))
    assert sections[1].title == "ML foundations"
    assert (sections[1].chapter_start, sections[1].chapter_end) == (1, 10)
    assert (sections[11].chapter_start, sections[11].chapter_end) == (112, 128)
    assert sections[3].heading == "E.3 Inference internals (Chapters 21–35)"
    assert sections[12].title == "Coding questions"
    assert sections[12].marker == "new section"
    assert sections[12].chapter_start is None
    assert sections[12].intro[0].startswith("These are implementation tasks, not MCQ.")
    assert len(sections[13].intro) == 2
    assert [(i.after, i.text[:17]) for i in sections[13].interludes] == [
        ("E13-515", "Probing variants ")
    ]
    assert parsed_bank.info.preamble[2] == "Interview question bank"
    assert parsed_bank.info.preamble[5].startswith("• Difficulty tags: [W] warm-up")
    assert parsed_bank.info.closing[0] == "Total: 530 questions across E.1–E.13."


def _by_id(parsed_bank: ParsedBank) -> dict[str, object]:
    return {q.id: q for q in parsed_bank.questions}


@pytest.mark.parametrize(
    ("qid", "difficulty", "roles", "text_start", "chapters", "tests", "companies", "points"),
    [
        (
            "E1-009",
            "H",
            ["MLE"],
            "What’s the difference between MHA, MQA, and GQA",
            [33],
            "attention variants",
            ["Meta", "Mistral", "Google"],
            3,
        ),
        (
            "E1-037",
            "S",
            ["RE"],
            "Explain the neural tangent kernel",
            [10],
            "theoretical ML depth",
            [],
            3,
        ),
        (
            "E2-041",
            "M",
            ["AS"],
            "What’s the Chinchilla scaling law",
            [11],
            "pretraining budget allocation",
            ["DeepMind", "OpenAI"],
            3,
        ),
        (
            "E2-046",
            "H",
            ["RE"],
            "What’s the memory breakdown for a single transformer layer",
            [12],
            "can you do the accounting? · applied researcher depth",
            [],
            3,
        ),
        (
            "E3-082",
            "M",
            ["MLS"],
            "Derive the KV cache size formula",
            [22],
            "inference memory math",
            ["OpenAI", "Meta"],
            3,
        ),
        (
            "E3-084",
            "M",
            ["MLS"],
            "Explain continuous batching",
            [23],
            "scheduling fundamentals",
            ["vLLM", "Orca paper"],
            3,
        ),
        (
            "E3-102",
            "H",
            ["MLS"],
            "Walk me through the memory layout of vLLM",
            [22, 24, 46],
            None,
            None,
            3,
        ),
        (
            "E4-143",
            "H",
            ["MLS"],
            "What metric should KEDA scale on for vLLM",
            [51],
            "GPU-native autoscaling",
            [],
            3,
        ),
        (
            "E5-191",
            "W",
            ["MLE"],
            "What is BM25 and what does it compute?",
            [57],
            "term-frequency × inverse-document-frequency with length normalization",
            [],
            0,
        ),
        ("E6-231", "W", ["MLE"], "What is an agent in the context of LLMs?", [67], None, [], 0),
        (
            "E7-261",
            "W",
            ["INF"],
            "What’s the difference between AuthN and AuthZ?",
            [74],
            "authentication = who are you; authorization = what are you allowed to do",
            [],
            0,
        ),
        (
            "E8-328",
            "H",
            ["INF"],
            "Design a privacy-preserving training pipeline",
            [91],
            "privacy-by-design for ML training",
            [],
            3,
        ),
        (
            "E9-336",
            "W",
            ["INF"],
            "What are the four golden signals?",
            [92],
            "latency, traffic, errors, saturation — from Google SRE",
            [],
            0,
        ),
        (
            "E10-376",
            "W",
            ["INF"],
            "Why does a large monorepo need a build system like Bazel?",
            [101],
            None,
            [],
            0,
        ),
        (
            "E11-416",
            "M",
            ["MLS"],
            "Capacity plan a 70B inference service at 500 QPS",
            [115],
            "hardware sizing math",
            [],
            3,
        ),
        (
            "E11-423",
            "M",
            ["MLS"],
            "Your p99 latency just spiked from 2s to 15s",
            [31, 91, 93],
            "incident response",
            [],
            None,
        ),
        (
            "E12-466",
            "M",
            ["MLE"],
            "Implement numerically-stable softmax.",
            [6],
            "overflow prevention in logit normalization",
            [],
            0,
        ),
        (
            "E12-489",
            "H",
            ["MLE"],
            "Implement the DPO training loss from scratch.",
            [17],
            "preference optimization implementation",
            ["Stanford"],
            0,
        ),
        (
            "E13-506",
            "M",
            ["MLE"],
            "Tell me about a time you had to make a significant",
            [128],
            "ambiguity and judgment",
            [],
            2,
        ),
        ("E13-530", "H", ["MLS"], "If you joined this team, what would you do", [], None, [], 1),
    ],
)
def test_spot_checked_entries_from_every_section(
    parsed_bank: ParsedBank,
    qid: str,
    difficulty: str,
    roles: list[str],
    text_start: str,
    chapters: list[int],
    tests: str | None,
    companies: list[str] | None,
    points: int | None,
) -> None:
    question = {q.id: q for q in parsed_bank.questions}[qid]
    assert question.difficulty == difficulty
    assert question.roles == roles
    assert question.text.startswith(text_start)
    assert question.chapters == chapters
    if tests is not None:
        assert question.tests == tests
    if companies is not None:
        assert question.companies == companies
    if points is not None:
        assert len(question.rubric) == points
    # Nothing of the trailing metadata may leak into the question text.
    assert "Chapter" not in question.text
    assert "What they" not in question.text
    assert "Solution sketch" not in question.text


def test_sections_seen_in_spot_checks_cover_all_thirteen(parsed_bank: ParsedBank) -> None:
    by_section = Counter(q.section for q in parsed_bank.questions)
    assert by_section == {
        1: 40,
        2: 40,
        3: 60,
        4: 50,
        5: 40,
        6: 30,
        7: 50,
        8: 25,
        9: 40,
        10: 40,
        11: 55,
        12: 40,
        13: 25,
    }


def test_both_copies_of_501_to_505_survive_under_their_own_section(
    parsed_bank: ParsedBank,
) -> None:
    questions = {q.id: q for q in parsed_bank.questions}
    for number in range(501, 506):
        concept, coding = questions[f"E11-{number:03d}"], questions[f"E12-{number:03d}"]
        assert concept.kind == "concept" and coding.kind == "coding"
        assert concept.text != coding.text
        assert concept.rubric and not coding.rubric
        assert coding.solution_sketch
    assert questions["E11-501"].text.startswith("What is a CUDA warp")
    assert questions["E11-505"].rubric[1].startswith("Fused: chain of ops runs in one kernel")
    assert questions["E12-501"].text.startswith("Implement a simple retry-with-idempotency-key")
    assert questions["E12-505"].solution_sketch.startswith("Redis key: quota:{tenant_id}:{window}")


def test_kinds_rubric_sources_and_story_types(parsed_bank: ParsedBank) -> None:
    questions = parsed_bank.questions
    assert Counter(q.kind for q in questions) == {"concept": 470, "coding": 40, "behavioral": 25}
    assert Counter(q.rubric_source for q in questions) == {
        "want_to_hear": 319,
        None: 191,
        "testing_sentence": 15,
        "testing_bullets": 10,
    }
    assert Counter(q.story for q in questions if q.kind == "behavioral") == {
        "canonical": 10,
        "probing": 15,
    }
    probing = {q.id: q for q in questions}["E13-516"]
    assert probing.rubric == [
        "Genuine reflection, not post-hoc rationalization. Does your hindsight include concrete, "
        "specific changes? “I’d get more data” is insufficient — which data, from where, at what "
        "cost?"
    ]
    assert probing.chapters == [] and probing.tests is None


def test_curly_quotes_and_symbols_are_kept_verbatim(parsed_bank: ParsedBank) -> None:
    questions = {q.id: q for q in parsed_bank.questions}
    assert (
        questions["E1-005"].rubric[1]
        == "For 7B model: 7B × 8 = 56 GB optimizer state alone in FP32"
    )
    assert (
        questions["E1-008"].text == "Why does the √d factor appear in scaled dot-product attention?"
    )
    assert "“" in questions["E1-040"].text and "”" in questions["E1-040"].text


def test_a_rubric_header_without_bullets_is_an_error_naming_the_line() -> None:
    text = (
        "E.1 Basics (Chapters 1–2)\n\n"
        "1. [M][MLE] Why? Chapter 1 · testing: a thing What they want to hear:\n\n"
        "2. [W][MLE] Next? Chapter 2 · testing: another\n"
    )
    with pytest.raises(ContentError, match="line 3: question E1-001 announces a rubric"):
        parse_bank(text)


def test_unreadable_tags_are_reported_with_their_line() -> None:
    with pytest.raises(ContentError, match="line 2: cannot read the tags"):
        parse_bank("E.1 Basics (Chapters 1–2)\n1. [X][MLE] Why? Chapter 1 · testing: it\n")
