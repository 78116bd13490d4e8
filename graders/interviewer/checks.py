"""Checks every model-written interviewer line passes before it is posted.

A reply is refused when it is too long, when it states a requirement the scenario does not give
(a number nobody said, or a requirement sentence far from every fact), when it hands over the
design (a statement close to the guide's own design points, or an outright "the answer is"),
or when it wanders off the interview's topic. The caller then posts the scripted reply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from graders.embeddings import Embedder
from graders.interviewer.model import TurnContext
from graders.interviewer.scripted import questions_in, sentences

MAX_REPLY_CHARS = 700
# A requirement sentence at least this close to a fact restates it (cosine, MiniLM).
FACT_FLOOR = 0.55
# A statement this close to one of the guide's design points hands the design over.
GIVE_AWAY_FLOOR = 0.72
# Below this, the reply is about something else than the interview.
TOPIC_FLOOR = 0.12

# What any interviewer's follow-up is about, whatever the scenario: an anchor for the topic check.
INTERVIEW_TALK = (
    "A question about your design: how it works, why, what it costs, how you would measure "
    "it, what fails, what the user sees, which trade-offs and numbers."
)
_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?)\s*(k|m|ms|s|%|x|gb|tb|qps|rps)?\b", re.I)
_REQUIREMENT = re.compile(
    r"\b(must|needs? to|has to|have to|is required|requirement|should support|we expect|"
    r"you can assume|assume that|the system handles|there are|peak of|users?\b.*\bper)\b",
    re.I,
)
_GIVE_AWAY = re.compile(
    r"\b(the answer is|the solution is|the best design is|here is the design|"
    r"you should use|the right answer|the correct design|you need to use)\b",
    re.I,
)


@dataclass(frozen=True)
class CheckResult:
    """Whether a reply may be posted, and why not."""

    ok: bool
    reason: str = ""


def _values(text: str) -> set[str]:
    """Return the numbers a text states (a lone digit is counting, not a requirement)."""
    return {v for v in (value.replace(",", "") for value, _ in _NUMBER.findall(text)) if len(v) > 1}


def check_reply(text: str, ctx: TurnContext, embedder: Embedder) -> CheckResult:
    """Return whether a model's interviewer line may be posted in this mock."""
    stripped = text.strip()
    if not stripped:
        return CheckResult(False, "empty reply")
    if len(stripped) > MAX_REPLY_CHARS:
        return CheckResult(False, f"too long ({len(stripped)} characters)")
    if _GIVE_AWAY.search(stripped):
        return CheckResult(False, "gives the solution away")
    known = ctx.scenario.facts_text() + "\n" + "\n".join(t.text for t in ctx.transcript)
    known_numbers = _values(known)
    for sentence in sentences(stripped):
        if sentence in questions_in(sentence):
            continue
        if _values(sentence) - known_numbers:
            return CheckResult(False, f"invents a requirement ({sentence!r})")
    statements = [s for s in sentences(stripped) if s not in questions_in(s)]
    requirement_like = [s for s in statements if _REQUIREMENT.search(s)]
    facts = [f.answer for f in ctx.scenario.facts] + [ctx.scenario.text]
    design = list(ctx.guide.design_points)
    phase = ctx.guide.phase(ctx.phase)
    topic = [ctx.scenario.text, phase.focus, ctx.last_candidate or "", INTERVIEW_TALK]
    topic += [f"{p.focus}: {', '.join(p.deliverables)}" for p in ctx.guide.phases]
    texts = [stripped, *statements, *facts, *design, *topic]
    vectors = embedder.encode(texts)
    reply_vec = vectors[0]
    at = 1
    statement_vecs = vectors[at : at + len(statements)]
    at += len(statements)
    fact_vecs = vectors[at : at + len(facts)]
    at += len(facts)
    design_vecs = vectors[at : at + len(design)]
    at += len(design)
    topic_vecs = vectors[at:]
    for sentence, vec in zip(statements, statement_vecs, strict=True):
        if sentence in requirement_like and len(fact_vecs):
            if float(np.max(fact_vecs @ vec)) < FACT_FLOOR:
                return CheckResult(False, f"invents a requirement ({sentence!r})")
        if len(design_vecs) and float(np.max(design_vecs @ vec)) >= GIVE_AWAY_FLOOR:
            return CheckResult(False, f"gives the design away ({sentence!r})")
    if len(topic_vecs) and float(np.max(topic_vecs @ reply_vec)) < TOPIC_FLOOR:
        return CheckResult(False, "off topic")
    return CheckResult(True)
