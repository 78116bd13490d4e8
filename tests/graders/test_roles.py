"""Role swaps: every word of the point, attached to the wrong thing.

The sentences here are written in other words than the rubric points they test.
"""

from __future__ import annotations

import pytest

from graders.claims import check_claim
from graders.roles import binding_conflict, contrasted, order_conflict, role_conflict

CHINCHILLA = "Chinchilla-70B beat Gopher-280B at the same compute budget"
FRAMEWORKS = (
    "Most frameworks use define-by-run (PyTorch) rather than define-and-run (TF v1), which "
    "changes when the graph is built"
)
PREFILL_Q = (
    "Why is prefill compute-bound and decode memory-bandwidth-bound? What follows from this?"
)
PREFILL = (
    "Prefill: many tokens × same weights = high arithmetic intensity (FLOPs/byte) → GPU compute "
    "is the bottleneck",
    "Decode: one token per step × all weights loaded from HBM per step = FLOPs/byte → HBM "
    "bandwidth is the bottleneck",
)
NORM_Q = "What’s the difference between LayerNorm and RMSNorm?"
NORM = (
    "RMSNorm drops mean subtraction and the bias, keeping only root-mean-square rescaling",
    "~1% less compute with comparable quality; standard in Llama and Mistral",
    "LayerNorm needs mean and variance; RMSNorm needs only RMS — one less reduction pass",
)
AGENT_Q = "Workflow vs agent — how do you decide which to use?"
AGENT = (
    "If execution can be drawn as a state machine with known transitions, use a workflow "
    "(Temporal, Step Functions); simpler, deterministic, testable",
    "If the next step depends on runtime model judgment, use an agent; accept non-determinism, "
    "opaque failures, and harder testing as the tax",
)


@pytest.mark.parametrize(
    "sentence",
    [
        "At equal training compute, the four-times-bigger Gopher came out ahead of Chinchilla.",
        "Gopher outperformed Chinchilla when both got the same FLOPs.",
        "Chinchilla lost to Gopher although the budget was identical.",
        "They preferred define-and-run graphs over define-by-run ones in most frameworks.",
    ],
)
def test_sides_of_a_comparison_the_other_way_round_contradict(sentence: str) -> None:
    point = FRAMEWORKS if "define" in sentence else CHINCHILLA
    assert order_conflict(point, sentence)[0] == 1.0
    check = check_claim(point, sentence)
    assert check.verdict == "contradicts", check
    assert check.direction_conflict == 1.0


@pytest.mark.parametrize(
    "sentence",
    [
        "With the same compute, Chinchilla edged out the much larger Gopher.",
        "Gopher was beaten by Chinchilla on an identical budget.",
        "Gopher, four times larger, lost to Chinchilla on the same budget.",
        "PyTorch builds the graph as the code runs, rather than ahead of time like TF1.",
    ],
)
def test_the_same_comparison_in_other_words_is_no_conflict(sentence: str) -> None:
    point = FRAMEWORKS if "PyTorch" in sentence else CHINCHILLA
    assert order_conflict(point, sentence)[0] == 0.0
    assert check_claim(point, sentence).verdict != "contradicts"


def test_a_figure_given_to_the_other_side_contradicts() -> None:
    strength, reason = binding_conflict(
        CHINCHILLA, "The 280B Chinchilla won against a smaller Gopher."
    )
    assert strength == 1.0 and "280b" in reason
    assert binding_conflict(CHINCHILLA, "A 70B Chinchilla won against the 280B Gopher.")[0] == 0.0


def test_the_things_a_question_contrasts() -> None:
    assert set(contrasted(NORM_Q, NORM)) == {"layernorm", "rmsnorm"}
    assert set(contrasted(AGENT_Q, AGENT)) == {"workflow", "agent"}
    assert len(contrasted(PREFILL_Q, PREFILL)) == 2
    # "Token bucket vs leaky bucket" names no single-word things to swap.
    assert contrasted("Token bucket vs leaky bucket: when do you use each?", ("a", "b")) == ()


@pytest.mark.parametrize(
    ("question", "rubric", "swapped", "right"),
    [
        (
            PREFILL_Q,
            PREFILL,
            "Decode is the compute-heavy phase with high arithmetic intensity, and prefill is "
            "limited by memory bandwidth since all weights come from HBM for each step.",
            "Prefill pushes the whole prompt through identical weights, so it has high arithmetic "
            "intensity and the GPU's compute is the limit; decode makes one token per step and "
            "reloads all the weights from HBM, so bandwidth is the bottleneck.",
        ),
        (
            NORM_Q,
            NORM,
            "RMSNorm still subtracts the mean and needs the variance, while LayerNorm skips the "
            "mean and the bias and rescales by the root mean square alone.",
            "RMSNorm leaves out the mean subtraction and the bias and rescales by the RMS only, "
            "while LayerNorm needs mean and variance.",
        ),
        (
            AGENT_Q,
            AGENT,
            "When the steps form a known state machine, go with an agent; a workflow suits cases "
            "where the model decides the next step at runtime.",
            "When the steps form a known state machine, go with a workflow; an agent suits cases "
            "where the model decides the next step at runtime.",
        ),
    ],
)
def test_a_predicate_said_of_the_contrasted_thing_contradicts(
    question: str, rubric: tuple[str, ...], swapped: str, right: str
) -> None:
    things = contrasted(question, rubric)
    flagged = [role_conflict(p, swapped, things, rubric)[0] for p in rubric]
    assert flagged[0] == 1.0
    assert all(role_conflict(p, right, things, rubric)[0] == 0.0 for p in rubric)
    check = check_claim(rubric[0], swapped, contrast=things, rubric=rubric)
    assert check.verdict == "contradicts" and "says of" in " ".join(check.reasons)
