"""Word-piece alignment of a rubric point with an answer, on the real encoder."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graders import embeddings
from graders.alignment import NAMES, point_alignment
from graders.embeddings import MiniLMEmbedder, TokenVectors, content_tokens
from graders.offline import OfflineGrader, rubric_clauses
from graders.verdict_model import FEATURES

POINT = "The KV cache grows linearly with sequence length and with batch size"


@pytest.fixture(scope="module")
def embedder() -> MiniLMEmbedder:
    return MiniLMEmbedder()


def measure(embedder: MiniLMEmbedder, point: str, answer: list[str]) -> dict[str, float]:
    tokens = embedder.tokens([point, *rubric_clauses(point), *answer])
    clauses = tokens[1 : 1 + len(rubric_clauses(point))]
    return point_alignment(tokens[0], clauses, tokens[1 + len(clauses) :])


def test_a_paraphrase_without_the_points_words_is_aligned_closer_than_a_topical_sentence(
    embedder: MiniLMEmbedder,
) -> None:
    paraphrase = measure(
        embedder,
        POINT,
        [
            "Memory for the cached keys and values rises in proportion to the context and the "
            "number of requests served together."
        ],
    )
    topical = measure(
        embedder,
        POINT,
        ["Transformers use attention heads, and serving them well is an engineering problem."],
    )
    assert paraphrase["tok_recall"] > topical["tok_recall"] + 0.05
    assert paraphrase["tok_said"] > topical["tok_said"]


def test_one_half_of_a_two_part_point_shows_in_its_clauses(embedder: MiniLMEmbedder) -> None:
    point = "Prefill is compute-bound; decode is memory-bandwidth-bound"
    assert len(rubric_clauses(point)) == 2
    half = measure(embedder, point, ["Prefill is limited by compute, since it is a big matmul."])
    both = measure(
        embedder,
        point,
        ["Prefill is limited by compute.", "Decode is limited by memory bandwidth."],
    )
    assert half["tok_clause_max"] > half["tok_clause_min"] + 0.05
    assert both["tok_clause_min"] > half["tok_clause_min"]
    # Said across two sentences: the whole answer says more of it than its best sentence.
    assert both["tok_recall"] > both["tok_recall_sent"]


def test_nothing_to_align_measures_zero(embedder: MiniLMEmbedder) -> None:
    empty = TokenVectors((), np.zeros((0, 384), dtype=np.float16))
    point = embedder.tokens([POINT])[0]
    assert point_alignment(point, [], []) == dict.fromkeys(NAMES, 0.0)
    assert point_alignment(empty, [], [point]) == dict.fromkeys(NAMES, 0.0)


def test_content_pieces_leave_out_markers_punctuation_and_function_words() -> None:
    pieces = ["[CLS]", "the", "kv", "cache", "grows", ",", "with", "##s", "[SEP]", "[PAD]"]
    vectors = np.random.default_rng(0).normal(size=(len(pieces), 384))
    tokens = content_tokens(pieces, vectors)
    assert tokens.pieces == ("kv", "cache", "grows", "##s")
    assert tokens.vectors.dtype == np.float16
    assert np.allclose(np.linalg.norm(tokens.vectors.astype(np.float32), axis=1), 1.0, atol=1e-2)


def test_word_pieces_come_from_the_pass_that_encoded_the_sentence(
    embedder: MiniLMEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "Adam keeps two moments per weight."
    vector = embedder.encode([text])[0]
    reference = embeddings.TorchEncoder(embeddings.model_dir()).model.encode(
        [text], normalize_embeddings=True
    )[0]
    assert np.allclose(vector, reference, atol=1e-5)

    class NoPasses:
        def run(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("encoded again")

    monkeypatch.setattr(embeddings, "_load_model", lambda: NoPasses())
    tokens = embedder.tokens([text])[0]
    assert tokens.pieces == ("adam", "keeps", "two", "moments", "per", "weight")
    # In context, the sentence vector is the mean of all its pieces' vectors: its content pieces
    # point the same way.
    mean = tokens.vectors.astype(np.float32).mean(axis=0)
    assert float(mean @ vector) / float(np.linalg.norm(mean)) > 0.8


def test_the_grader_measures_what_the_verdict_model_reads(offline_grader: OfflineGrader) -> None:
    from graders.models import RubricQuestion

    question = RubricQuestion(id="E1-001", text="KV cache?", rubric=(POINT,), kind="concept")
    (features,) = offline_grader.features(question, "It grows with the context length.")
    assert set(NAMES) <= set(FEATURES)
    assert all(0.0 <= features.values[name] <= 1.0 + 1e-6 for name in NAMES)
    (empty,) = offline_grader.features(question, "")
    assert all(empty.values[name] == 0.0 for name in NAMES)
