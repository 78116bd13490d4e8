"""Day questions link to the bank question they ask about, or to nothing rather than a wrong one."""

from __future__ import annotations

import pytest

from content import Library
from content.linking import ACCEPT_AT, QuestionLinker, candidate_kinds, tokens
from content.schema import DayQuestion

# Human judgement on the authored days: for each day question, the bank questions whose rubric
# would fairly grade an answer. A question absent here has no fitting bank question.
ACCEPTABLE: dict[str, set[str]] = {
    "D121-05": {"E4-155"},
    "D121-09": {"E8-328"},
    "D121-10": {"E8-328"},
    "D121-13": {"E4-155"},
    "D121-14": {"E4-155"},
    "D121-15": {"E3-085"},
    "D121-16": {"E3-119"},
    "D121-17": {"E3-124"},
    "D121-18": {"E4-141", "E4-158", "E7-291"},
    "D121-19": {"E3-116"},
    "D098-06": {"E4-155"},
    "D098-07": {"E4-155"},
    "D098-08": {"E3-085"},
    "D098-09": {"E3-119"},
    "D098-10": {"E3-124"},
    "D098-11": {"E4-141", "E4-158", "E7-291"},
    "D098-12": {"E3-116"},
    "D098-15": {"E4-143"},
    "D098-16": {"E4-143"},
    "D098-17": {"E7-299"},
    "D097-05": {"E4-183"},
    "D097-07": {"E4-156"},
    "D097-08": {"E10-398"},
    "D097-09": {"E10-398", "E9-350"},
    "D097-10": {"E3-107", "E3-109"},
    "D097-11": {"E3-107"},
    "D097-12": {"E1-028"},
    "D097-13": {"E1-028"},
    "D097-16": {"E3-084"},
    "D097-17": {"E3-116", "E3-084"},
    "D097-18": {"E3-081", "E3-082"},
    "D097-19": {"E3-085"},
    "D097-20": {"E3-104", "E3-116", "E4-151", "E4-157"},
}


def _authored_questions(library: Library) -> list[DayQuestion]:
    return [q for plan in library.authored.values() for q in plan.questions]


def test_every_link_on_the_authored_days_is_one_a_person_would_accept(library: Library) -> None:
    linked = [q for q in _authored_questions(library) if q.bank_id is not None]
    wrong = [(q.id, q.bank_id) for q in linked if q.bank_id not in ACCEPTABLE.get(q.id, set())]
    assert wrong == []
    assert len(linked) >= 15


def test_links_are_recorded_with_method_and_confidence(library: Library) -> None:
    for question in _authored_questions(library):
        assert question.match_confidence is not None
        if question.bank_id is None:
            assert question.match_method == "none"
            assert question.match_confidence < ACCEPT_AT
        else:
            assert question.match_method == "lexical"
            assert question.match_confidence >= ACCEPT_AT


def test_the_spec_example_links_pagedattention(library: Library) -> None:
    question = library.day(121).question("D121-15")
    assert question is not None
    assert question.text == "What does vLLM's PagedAttention do for throughput?"
    assert question.bank_id == "E3-085"
    assert library.questions["E3-085"].text.startswith("Explain PagedAttention")


@pytest.mark.parametrize(
    "text",
    [
        "Walk through DFS with a 'visited' marker on the board (in-place vs aux). Trade-offs?",
        "Prove the greedy choice — why is the locally-optimal pick safe globally?",
        "State the 2-D DP: indices, recurrence, base case. What's the order of fill?",
        "Compare exact-match prompt caching vs semantic caching — when does each fit?",
        "Compare TorchServe, Triton, and BentoML — when does each fit?",
        "Compare structured vs unstructured pruning — which actually speeds up inference?",
        "Walk through cold-start strategies for new users vs new items.",
    ],
)
def test_topics_the_bank_lacks_stay_unmatched(library: Library, text: str) -> None:
    link = library.linker.link(text)
    assert link.bank_id is None
    assert link.confidence < ACCEPT_AT


def test_every_bank_question_links_to_itself(library: Library) -> None:
    linker = library.linker
    for question in library.questions.values():
        link = linker.link(question.text)
        assert link.bank_id == question.id, (question.id, link)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How does PagedAttention cut KV-cache fragmentation?", "E3-085"),
        ("Why does continuous batching beat static batching?", "E3-084"),
        ("Explain knowledge distillation and the soft-target loss.", "E1-028"),
        ("Implement top-k sampling in PyTorch.", "E12-470"),
    ],
)
def test_paraphrases_link_to_their_bank_question(
    library: Library, text: str, expected: str
) -> None:
    assert library.linker.link(text).bank_id == expected


def test_coding_prompts_only_match_coding_questions(library: Library) -> None:
    assert candidate_kinds("Implement numerically-stable softmax.") == {"coding"}
    assert candidate_kinds("What is softmax?") == {"concept", "behavioral"}
    link = library.linker.link("Implement a simplified PagedAttention block manager.")
    assert link.bank_id == "E12-473"


def test_glossary_folds_synonyms_into_one_token() -> None:
    assert tokens("time to first token") == tokens("TTFT") == tokens("first-token latency")
    assert tokens("KV-cache") == tokens("kv cache")
    assert "zzautoscaling" in tokens("Compare CPU-based HPA vs KEDA")


def test_linking_is_deterministic_and_leaves_bank_and_manual_links_alone(library: Library) -> None:
    questions = list(library.questions.values())
    first, second = QuestionLinker(questions), QuestionLinker(list(reversed(questions)))
    for question in _authored_questions(library):
        assert first.link(question.text) == second.link(question.text)
    manual = DayQuestion(
        id="D005-01", number=1, text="Anything", bank_id="E1-001", match_method="manual"
    )
    assert first.link_question(manual) is manual
