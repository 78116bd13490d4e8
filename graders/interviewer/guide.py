"""Build the engines' view of the guide and of a scenario from the curriculum's objects.

The curriculum's models are read by attribute (duck-typed), so this package does not import
them: `from_guide(library.guide)` works on anything shaped like content's InterviewGuide.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from graders.interviewer.model import (
    Aspect,
    DeepDive,
    Fact,
    GuideBrief,
    PhaseBrief,
    ScenarioBrief,
    Trap,
)

IN_SCOPE = (
    "That is in scope for this scenario, but it gives no figure for it: state your assumption "
    "and carry on."
)
_SERVING_WORDS = ("microservice", "gpu", "serv")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+|;\s+")


def phase_slug(name: str) -> str:
    """Return the fixed slug of a guide phase name ("Scale & Reliability" -> scale-reliability)."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def first_paragraph(text: str, limit: int = 400) -> str:
    """Return the first paragraph of a long guide text, cut at a sentence near the limit."""
    head = text.strip().split("\n\n", 1)[0].replace("**", "").strip()
    if len(head) <= limit:
        return head
    cut = head[:limit].rsplit(". ", 1)[0]
    return cut + "."


def from_guide(guide: Any) -> GuideBrief:
    """Return the interviewer's view of the interview guide."""
    return GuideBrief(
        phases=tuple(
            PhaseBrief(
                slug=phase_slug(p.name),
                name=p.name,
                start_min=float(p.start_minute),
                end_min=float(p.end_minute),
                focus=p.focus,
                deliverables=tuple(p.deliverables),
            )
            for p in guide.phases
        ),
        clarifying=tuple(
            Fact(question=c.question, answer=c.expected_answers) for c in guide.clarifying_questions
        ),
        deep_dives=tuple(
            DeepDive(
                letter=d.letter,
                title=d.title,
                key_points=tuple(d.key_points),
                follow_ups=tuple(d.follow_up_points),
            )
            for d in guide.deep_dive_options
        ),
        scale_topics=tuple(t.topic for t in guide.scale_topics),
        traps=tuple(
            Trap(
                question=t.question,
                bad_answer=t.bad_answer,
                good_answer=first_paragraph(t.good_answer),
                generic=not any(w in t.question.lower() for w in _SERVING_WORDS),
            )
            for t in guide.trap_questions
        ),
        aspects=tuple(Aspect(a.aspect, a.good, a.great) for a in guide.scoring_rubric),
        red_flags=tuple(guide.red_flags),
        green_flags=tuple(guide.green_flags),
        design_points=tuple(
            [f"{p.name}: {p.detail}" for p in guide.design_key_points]
            + [k for d in guide.deep_dive_options for k in d.key_points]
            + [f"{t.topic}: {t.key_points}" for t in guide.scale_topics]
        ),
        wrap_up=first_paragraph(str(getattr(guide, "wrap_up_template", "")))
        or "Summarise your key decisions and the open questions.",
    )


def scenario_brief(
    guide: GuideBrief,
    *,
    scenario_id: str,
    title: str,
    text: str,
    rubric: Sequence[str] = (),
    full_brief: bool = False,
) -> ScenarioBrief:
    """Return a scenario with the facts the interviewer may state.

    The guide's own scenario answers from the guide's expected answers to its clarifying
    questions. Any other scenario answers from its own text and rubric points, stated once at
    the start as its constraints (a rubric point only confirms its topic is in scope); a
    question outside them is said to be outside them.
    """
    if full_brief:
        return ScenarioBrief(scenario_id, title, text, guide.clarifying, full_brief=True)
    sentences = [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 12]
    facts = [Fact(question=s, answer=s) for s in sentences]
    # A rubric point says what a strong answer covers: reading it out would hand over the
    # solution, so a question on its topic is only confirmed as in scope.
    facts += [Fact(question=p, answer=IN_SCOPE) for p in rubric]
    constraints = " ".join(sentences)
    return ScenarioBrief(
        scenario_id, title, text, tuple(facts), full_brief=False, constraints=constraints
    )
