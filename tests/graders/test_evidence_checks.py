"""Evidence checks: one verbatim passage, whole sentences, and what the point claims."""

from __future__ import annotations

from graders.evidence import (
    check_support,
    is_keyword_list,
    locate_verbatim,
    sentence_spans,
    whole_sentences,
)

ANSWER = (
    "I don't know how AdamW handles weight decay. I think it has something to do with the "
    "gradient.\nAdam keeps m and v in FP32, so 8 extra bytes per parameter."
)


def test_a_quote_must_be_one_contiguous_passage() -> None:
    assert locate_verbatim(ANSWER, "AdamW  handles\nweight decay") is not None
    assert locate_verbatim(ANSWER, "ADAMW HANDLES WEIGHT DECAY") is not None
    assert locate_verbatim(ANSWER, "AdamW ... weight decay ... the gradient") is None
    assert locate_verbatim(ANSWER, "AdamW … weight decay") is None
    assert locate_verbatim(ANSWER, "AdamW") is None  # too short to prove anything


def test_a_quote_widens_to_the_sentences_it_touches() -> None:
    span = locate_verbatim(ANSWER, "AdamW handles weight decay")
    assert span is not None
    ((start, end),) = whole_sentences(ANSWER, span)
    assert ANSWER[start:end] == "I don't know how AdamW handles weight decay."
    across = locate_verbatim(ANSWER, "weight decay. I think")
    assert across is not None and len(whole_sentences(ANSWER, across)) == 2
    assert [ANSWER[a:b] for a, b in sentence_spans(ANSWER)][-1].startswith("Adam keeps m and v")


def test_support_is_more_than_similarity() -> None:
    point = (
        "AdamW adds weight decay directly to the parameter update, decoupling it from the gradient"
    )
    denied = (
        "People say AdamW adds weight decay directly to the parameter update, but that's wrong."
    )
    assert check_support(point, denied).cap == "missing"
    hedged = "I think AdamW adds weight decay directly to the update, decoupled from the gradient."
    assert check_support(point, hedged).cap == "partial"
    stated = "AdamW applies weight decay directly in the update, decoupled from the gradient."
    assert check_support(point, stated).cap == "covered"
    figures = "For 7B model: 7B × 8 = 56 GB optimizer state alone in FP32"
    assert check_support(figures, "For a 7B model the optimizer state is large.").cap == "partial"
    assert check_support(figures, "Adam needs 28 GB for a 7B model.").cap == "missing"


def test_a_keyword_list_is_not_an_explanation() -> None:
    keywords = "Keywords: Adam, m, v, FP32, 8 bytes/param, 7B, 56 GB, AdamW, weight decay."
    assert is_keyword_list(keywords)
    assert is_keyword_list("Adam, m, v, FP32, decoupled, L2, gradient")
    assert not is_keyword_list("Adam keeps m and v, both in FP32, so 8 bytes per parameter.")
    support = check_support("Adam: m + v in FP32 = 8 bytes/param", keywords)
    assert support.keyword_list and support.cap == "partial"


def test_a_figure_said_another_way_is_stated() -> None:
    budget = "Error budget = 1 - SLO; for a 99.9% SLO, the budget is 0.1% = 43.8 min/month"
    rounded = "It's 1 minus the SLO, so 99.9% gives 0.1%, roughly 43 minutes per month."
    assert check_support(budget, rounded).cap == "covered"
    ratio = "Compute-optimal: ~20 tokens per parameter"
    assert check_support(ratio, "Train on about twenty tokens per parameter.").cap == "covered"
    spare = "Set the limit so that free memory is ≥ 2× the peak activation size"
    assert check_support(spare, "Leave at least twice the activation peak free.").cap == "covered"
    drop = "Alert when the score decreases by > 0.1 standard deviations for 24h"
    tenth = "Alert when it falls by more than a tenth of a standard deviation for a day."
    assert check_support(drop, tenth).cap == "covered"
    # Another value, in words or figures, is still not the point's figure.
    assert check_support(budget, "It's 1 minus the SLO, about 4 hours a month.").cap == "partial"
    assert check_support(spare, "Leave three times the activation peak free.").cap == "partial"
    assert check_support(ratio, "Train on about two tokens per parameter.").cap == "partial"


def test_an_operand_of_a_worked_product_is_not_the_figure_asserted() -> None:
    cost = "Cost: 20 × 2 GPUs × ~$3/hr = $120/hr at on-demand pricing"
    product = "Twenty replicas is 40 GPUs, and at around $3 per GPU-hour that is $120 an hour."
    assert check_support(cost, product).cap == "covered"
    # A figure the point asserts on its own still rules out another value in the same unit.
    assert check_support("Shard the model over 8 GPUs", "Shard the model over 4 GPUs.").cap == (
        "missing"
    )
    assert check_support(cost, "It needs 2 GPUs at about $3 an hour.").cap != "missing"


def test_a_terse_list_of_steps_is_not_a_keyword_list() -> None:
    steps = "x - max, exp, divide by sum; same result, no overflow."
    assert not is_keyword_list(steps)
    point = "Subtract the row max from the logits before exponentiating, then divide by the sum"
    assert check_support(point, steps).cap == "covered"
    # Terms with a relation or two among them are still a list of terms.
    assert is_keyword_list("Adam, m + v, FP32, 8 bytes/param, 7B, 56 GB, AdamW")
    assert is_keyword_list("pre-norm, post-norm, RMSNorm, LayerNorm, bias-free, KV-cache")
    assert is_keyword_list(
        "A RAG system needs chunking, embeddings, IVFPQ, BM25, hybrid retrieval, RRF, reranking."
    )
