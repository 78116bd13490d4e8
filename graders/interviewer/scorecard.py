"""The solo mock's scorecard, filled in from the transcript.

Each of the guide's scored aspects is rated on its scale (no hire / hire / strong hire) from
the candidate's own sentences: a sentence close to what "great" looks like (sentence embedding
similarity, or two of its key words) rates strong hire, one close to "good" rates hire. The
sentences quoted as evidence are checked to occur in what the candidate said (the grader's own
quote check), so no quote is ever made up. Flags: the guide's red flags that show (designing
before asking, missing topics, a bad habit said aloud) and green flags said. Then the two
weakest aspects, each with a bank question on its topic to practise next.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from graders.embeddings import Embedder
from graders.interviewer.model import (
    AspectRating,
    GuideBrief,
    Practice,
    Rating,
    SoloScorecard,
    Turn,
    candidate_text,
)
from graders.interviewer.scripted import questions_in, sentences
from graders.text import locate_quote

GREAT_FLOOR = 0.52
GOOD_FLOOR = 0.4
EVIDENCE_FLOOR = 0.3
GREEN_FLOOR = 0.5
RED_SAID_FLOOR = 0.6  # a candidate sentence this close to a bad habit shows it
RED_MISSING_FLOOR = 0.35  # no sentence this close to a topic: the topic is missing
_ORDER: dict[Rating, int] = {"no hire": 0, "hire": 1, "strong hire": 2}
_STOP = set(
    "the and for with about each why how what that this from into than then when mentions "
    "discusses asks draws beyond discussion mention treats like proposes without "
    "identifies designs levels immediately specific".split()
)
_WORD = re.compile(r"[a-z][a-z0-9/+-]{2,}")


def key_words(text: str) -> set[str]:
    """Return the content words of a descriptor (lower case, no filler)."""
    found: set[str] = set()
    for word in _WORD.findall(text.lower()):
        found.update(w for w in word.split("/") if len(w) > 2 and w not in _STOP)
    return found


def _hits(words: set[str], sentence: str) -> int:
    lowered = sentence.lower()
    # A word counts in any form: "trade-offs" is found in "trade-off", "explains" in "explain".
    stems = {w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words}
    hits = sum(1 for w in stems if re.search(rf"\b{re.escape(w)}", lowered))
    if stems & {"number", "quantifie"} and re.search(r"\d", sentence):
        hits += 1  # "quantifies with numbers": a figure said is the evidence
    return hits


def verified(quotes: Sequence[str], said: str) -> tuple[str, ...]:
    """Keep the quotes that occur in what the candidate said (whitespace and case tolerant)."""
    return tuple(q for q in quotes if locate_quote(said, q) is not None)


def score_transcript(
    guide: GuideBrief,
    transcript: Sequence[Turn],
    embedder: Embedder,
    *,
    bank: Sequence[tuple[str, str]] = (),
) -> SoloScorecard:
    """Fill in the guide's scorecard from a solo mock's conversation."""
    said = candidate_text(transcript)
    lines = [s for t in transcript if t.speaker == "candidate" for s in sentences(t.text)]
    lines = [s for s in lines if len(s) >= 12]
    descriptors: list[str] = []
    for a in guide.aspects:
        descriptors += [f"{a.aspect}: {a.good}", f"{a.aspect}: {a.great}"]
    flags = [*guide.red_flags, *guide.green_flags]
    vectors = embedder.encode([*lines, *descriptors, *flags]) if lines else None
    ratings: list[AspectRating] = []
    for i, a in enumerate(guide.aspects):
        if vectors is None:
            ratings.append(AspectRating(a.aspect, "no hire", ()))
            continue
        sents = vectors[: len(lines)]
        good = sents @ vectors[len(lines) + 2 * i]
        great = sents @ vectors[len(lines) + 2 * i + 1]
        great_words = key_words(a.great)
        good_words = key_words(f"{a.good} {a.aspect}") | great_words
        best_great = max(
            (float(great[j]) + 0.12 * min(2, _hits(great_words, s)) for j, s in enumerate(lines)),
            default=0.0,
        )
        best_good = max(
            (
                max(float(good[j]), float(great[j])) + 0.12 * min(2, _hits(good_words, s))
                for j, s in enumerate(lines)
            ),
            default=0.0,
        )
        rating: Rating = (
            "strong hire"
            if best_great >= GREAT_FLOOR
            else "hire"
            if best_good >= GOOD_FLOOR
            else "no hire"
        )
        scores = np.maximum(good, great)
        order = [int(j) for j in np.argsort(-scores)]
        quotes = [lines[j] for j in order[:2] if float(scores[j]) >= EVIDENCE_FLOOR]
        ratings.append(AspectRating(a.aspect, rating, verified(quotes, said)))
    reds, greens = _flags(guide, transcript, lines, vectors, len(descriptors))
    return SoloScorecard(
        aspects=tuple(ratings),
        red_flags=reds,
        green_flags=greens,
        practise=practise_next(guide, ratings, embedder, bank),
    )


def _flags(
    guide: GuideBrief,
    transcript: Sequence[Turn],
    lines: list[str],
    vectors: np.ndarray | None,
    n_descriptors: int,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    clarify_questions = [
        q
        for t in transcript
        if t.speaker == "candidate" and t.phase == "clarify"
        for q in questions_in(t.text)
    ]
    jumped = any(t.intent == "red-flag-jump" for t in transcript if t.speaker == "interviewer")
    reds: list[str] = []
    greens: list[str] = []
    base = len(lines) + n_descriptors
    for k, flag in enumerate(guide.red_flags):
        if "clarifying" in flag.lower():
            if jumped or not clarify_questions:
                reds.append(flag)
            continue
        if vectors is None:
            reds.append(flag)
            continue
        scores = vectors[: len(lines)] @ vectors[base + k]
        best = float(np.max(scores)) if len(lines) else 0.0
        missing = flag.split()[0].lower() in ("no", "ignores", "can't", "doesn't")
        if missing:
            words = key_words(flag)
            if best < RED_MISSING_FLOOR and not any(_hits(words, s) for s in lines):
                reds.append(flag)
        elif best >= RED_SAID_FLOOR:
            reds.append(flag)
    for k, flag in enumerate(guide.green_flags):
        if vectors is None:
            continue
        scores = vectors[: len(lines)] @ vectors[base + len(guide.red_flags) + k]
        words = key_words(flag)
        if float(np.max(scores)) >= GREEN_FLOOR or any(_hits(words, s) >= 2 for s in lines):
            greens.append(flag)
    return tuple(reds), tuple(greens)


def practise_next(
    guide: GuideBrief,
    ratings: Sequence[AspectRating],
    embedder: Embedder,
    bank: Sequence[tuple[str, str]],
) -> tuple[Practice, ...]:
    """Return two things to practise: the weakest aspects, each with a bank question on it."""
    by_name = {a.aspect: a for a in guide.aspects}
    weakest = sorted(ratings, key=lambda r: _ORDER[r.rating])[:2]
    out: list[Practice] = []
    bank_vectors = embedder.encode([text for _, text in bank]) if bank else None
    taken: set[str] = set()
    for rating in weakest:
        aspect = by_name[rating.aspect]
        advice = f"{aspect.aspect}: aim for {aspect.great[:1].lower()}{aspect.great[1:]}."
        question_id, question = "", ""
        if bank_vectors is not None:
            target = embedder.encode([f"{aspect.aspect}: {aspect.good}; {aspect.great}"])[0]
            for j in [int(x) for x in np.argsort(-(bank_vectors @ target))]:
                if bank[j][0] not in taken:
                    question_id, question = bank[j]
                    taken.add(question_id)
                    break
        out.append(Practice(aspect.aspect, advice, question_id, question))
    return tuple(out)
