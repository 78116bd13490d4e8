"""Word-piece alignment of a rubric point with an answer (a BERTScore-style measure).

Whole-sentence similarity blurs a point into one vector: "the KV cache grows linearly with
sequence length" and "memory for cached keys and values rises in proportion to the context" are
close, but so are many sentences that share the topic and state something else. Aligning each of
the point's content word pieces with its closest piece in the answer, in context, tells how much
of what the point names the answer says in some form (a paraphrase counts, its literal tokens
absent), and how much of a supporting sentence is about the point. The verdict model weighs these
with the claim checks; none of them decides a point alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from graders.embeddings import TokenVectors

# How close a piece of the answer must be, in context, for a point's piece to count as said
# (near the same word in another sentence, or a close synonym) or as said all but verbatim.
SAID = 0.6
SAID_CLOSELY = 0.75
SAID_VERBATIM = 0.9

NAMES: tuple[str, ...] = (
    "tok_recall",
    "tok_recall_sent",
    "tok_said",
    "tok_said_closely",
    "tok_said_verbatim",
    "tok_clause_min",
    "tok_clause_max",
)


def _rows(tokens: TokenVectors) -> np.ndarray:
    return np.asarray(tokens.vectors, dtype=np.float32)


def recall(point: TokenVectors, answer: np.ndarray) -> float:
    """Mean over the point's pieces of the closest piece of `answer` (0 when either is empty)."""
    rows = _rows(point)
    if len(rows) == 0 or len(answer) == 0:
        return 0.0
    return float((rows @ answer.T).max(axis=1).mean())


def point_alignment(
    point: TokenVectors,
    clauses: Sequence[TokenVectors],
    sentences: Sequence[TokenVectors],
) -> dict[str, float]:
    """Measure how much of a point (and of each of its clauses) the answer's sentences say.

    - tok_recall: the point's pieces against every piece of the answer;
    - tok_recall_sent: against the one sentence that says most of it;
    - tok_said*: the share of the point's pieces said somewhere at each closeness;
    - tok_clause_min / tok_clause_max: recall of the point's least and best said clause.
    """
    rows = _rows(point)
    sentence_rows = [_rows(s) for s in sentences if len(s.vectors)]
    if len(rows) == 0 or not sentence_rows:
        return dict.fromkeys(NAMES, 0.0)
    answer = np.concatenate(sentence_rows)
    best = (rows @ answer.T).max(axis=1)
    values = {
        "tok_recall": float(best.mean()),
        "tok_said": float((best > SAID).mean()),
        "tok_said_closely": float((best > SAID_CLOSELY).mean()),
        "tok_said_verbatim": float((best > SAID_VERBATIM).mean()),
    }
    # A point is best stated in one sentence; a long sentence is not discounted for saying
    # more than the point (a precision would be).
    values["tok_recall_sent"] = max(float((rows @ s.T).max(axis=1).mean()) for s in sentence_rows)
    said = [recall(clause, answer) for clause in clauses if len(clause.vectors)]
    if not said:
        said = [values["tok_recall"]]
    values["tok_clause_min"] = min(said)
    values["tok_clause_max"] = max(said)
    return values
