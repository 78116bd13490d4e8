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
