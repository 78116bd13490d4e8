"""The scripted interviewer: the guide's interview played from its data, no model needed.

It keeps no state of its own: what it already did (answered, pushed back, asked the trap) is
read from the intents of its earlier lines in the transcript, so a restarted bot continues
the same interview from the stored conversation.

- Clarify: each of the candidate's questions is matched to the scenario's facts by sentence
  embedding similarity and answered from them; a question outside them is said to be outside
  them (no invented requirement). Designing before asking anything gets the guide's red flag.
- Later phases: the phase's prompt and deliverables at its start (`phase_prompt`), a push back
  once per phase on a weak answer, one of the guide's trap questions in the deep dive, then
  the guide's follow-ups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from graders.embeddings import Embedder
from graders.interviewer.model import (
    Fact,
    GuideBrief,
    InterviewerReply,
    ScenarioBrief,
    Trap,
    TurnContext,
)

# A clarifying question this close to a fact's question (cosine, MiniLM) is answered from it.
MATCH_FLOOR = 0.5
WEAK_WORDS = 15  # an answer shorter than this says too little to be judged
_QUESTION_START = re.compile(
    r"^(what|which|who|when|where|why|how|is|are|do|does|did|should|can|could|will|would|"
    r"shall|may|any|have|has)\b",
    re.I,
)
_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_DESIGN_WORDS = (
    "architecture",
    "load balancer",
    "kubernetes",
    "microservice",
    "i would use",
    "i'd use",
    "we'll use",
    "we will use",
    "let's use",
    "i'll use",
    "database",
    "cache",
    "queue",
    "deploy",
    "cluster",
    "gpus",
    "the design",
    "my design",
)
_HEDGES = ("just ", "simply ", "probably ", "i guess", "not sure", "somehow")

OUTSIDE = (
    "That is outside what this scenario specifies, so I won't invent it: state your "
    "assumption and carry on."
)
JUMP = (
    "Hold on: you are designing before asking me anything. A real interviewer would mark that "
    'as a red flag (the guide: "Doesn\'t ask clarifying questions"). What do you need to know '
    "first?"
)


def sentences(text: str) -> list[str]:
    """Split a line into sentences."""
    return [s.strip() for s in _SPLIT.split(text) if s.strip()]


def questions_in(text: str) -> list[str]:
    """Return the sentences of a line that ask something."""
    return [s for s in sentences(text) if s.endswith("?") or _QUESTION_START.match(s)]


def jumps_to_design(text: str) -> bool:
    """Tell whether a line proposes a design (rather than asking about requirements)."""
    lowered = text.lower()
    return not questions_in(text) and any(w in lowered for w in _DESIGN_WORDS)


def weak_answer(text: str) -> str | None:
    """Return why an answer is weak (too short, hedged, no number), or None when it is not."""
    words = text.split()
    if len(words) < WEAK_WORDS:
        return "that is too short for me to judge"
    lowered = f" {text.lower()}"
    if any(h in lowered for h in _HEDGES) and len(words) < 2 * WEAK_WORDS:
        return "that sounds like a shortcut rather than a reasoned choice"
    return None


def phase_prompt(guide: GuideBrief, scenario: ScenarioBrief, slug: str) -> str:
    """Return what the interviewer says as a phase begins: its prompt and its deliverables."""
    phase = guide.phase(slug)
    wanted = ", ".join(phase.deliverables)
    minutes = f"{phase.start_min:g}-{phase.end_min:g} min"
    if slug == "clarify":
        text = (
            f"I'm StudyBot, your interviewer today. {scenario.title}. {scenario.text} "
            f"We have {guide.phases[-1].end_min:g} minutes. First, {phase.focus.lower()}: "
            "ask me your clarifying questions."
        )
        if scenario.constraints and not scenario.full_brief:
            text += f" What this scenario gives you: {scenario.constraints}"
        return f"{text} (Clarify, {minutes}; I want: {wanted}.)"
    if slug == "deep-dive" and guide.deep_dives:
        options = "; ".join(f"{d.letter}) {d.title}" for d in guide.deep_dives)
        return (
            f"Deep dive ({minutes}): pick the critical component and go deep. "
            f"Options: {options}. I want: {wanted}."
        )
    if slug == "scale-reliability" and guide.scale_topics:
        topics = ", ".join(guide.scale_topics[:4])
        return (
            f"{phase.name} ({minutes}): {phase.focus.lower()}. How does this hold up at scale "
            f"and when parts fail? Think about {topics}. I want: {wanted}."
        )
    if slug == "wrap-up":
        return (
            f"{phase.name} ({minutes}): {phase.focus.lower()}. Summarise your design in a few "
            f"sentences. I want: {wanted}."
        )
    return f"{phase.name} ({minutes}): {phase.focus}. Walk me through it. I want: {wanted}."


class ScriptedInterviewer:
    """The guide's interview from its data; matches questions to facts by embedding."""

    name = "scripted"

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder

    def best_fact(self, question: str, facts: Sequence[Fact]) -> tuple[Fact | None, float]:
        """Return the fact whose question is closest to this one, and how close."""
        if not facts:
            return None, 0.0
        vectors = self._embedder.encode([question, *(f.question for f in facts)])
        scores = vectors[1:] @ vectors[0]
        best = int(np.argmax(scores))
        return facts[best], float(scores[best])

    def pick_trap(self, ctx: TurnContext) -> Trap | None:
        """Return the trap question to probe: the one closest to what the candidate said."""
        traps = [t for t in ctx.guide.traps if ctx.scenario.full_brief or t.generic]
        if not traps:
            return None
        said = " ".join(t.text for t in ctx.transcript if t.speaker == "candidate")[-2000:]
        if not said.strip():
            return traps[0]
        vectors = self._embedder.encode([said, *(t.question for t in traps)])
        return traps[int(np.argmax(vectors[1:] @ vectors[0]))]

    async def reply(self, ctx: TurnContext) -> InterviewerReply:
        """Answer the candidate's latest line the way the guide's interviewer would."""
        text, intent = self.respond(ctx)
        return InterviewerReply(text=text, intent=intent, engine=self.name)

    def respond(self, ctx: TurnContext) -> tuple[str, str]:
        """Return the reply and its intent (synchronous: the encoder is local)."""
        said = ctx.last_candidate
        if ctx.phase == "clarify":
            return self._clarify(ctx, said)
        in_phase = ctx.intents(phase=ctx.phase)
        weak = weak_answer(said)
        if weak and "pushback" not in in_phase:
            return (
                f"I'm not convinced yet: {weak}. Be specific: what exactly would you do, "
                "with which numbers, and what does it cost you?",
                "pushback",
            )
        if ctx.phase == "deep-dive" and "trap" not in in_phase:
            trap = self.pick_trap(ctx)
            if trap is not None:
                return f"Let me push on one thing: {trap.question}", "trap"
        if "deliverables" not in in_phase:
            phase = ctx.guide.phase(ctx.phase)
            return (
                f"Before we move on, make sure I have these: {', '.join(phase.deliverables)}.",
                "deliverables",
            )
        follow_up = self._next_follow_up(ctx)
        if follow_up is not None:
            return follow_up, "follow-up"
        return "Go on.", "ack"

    def _clarify(self, ctx: TurnContext, said: str) -> tuple[str, str]:
        asked = questions_in(said)
        if not asked:
            if jumps_to_design(said) and not ctx.intents() & {
                "clarify-answer",
                "clarify-outside",
                "red-flag-jump",
            }:
                return JUMP, "red-flag-jump"
            return "Noted. Anything else to clarify before the high-level design?", "ack"
        answers: list[str] = []
        outside = 0
        for question in asked[:4]:
            fact, score = self.best_fact(question, ctx.scenario.facts)
            if fact is not None and score >= MATCH_FLOOR:
                if fact.answer not in answers:
                    answers.append(fact.answer)
            else:
                outside += 1
        if not answers:
            return OUTSIDE, "clarify-outside"
        text = "Good question. " + " ".join(a.rstrip(".") + "." for a in answers)
        if outside:
            text += " The rest is outside what this scenario specifies: state an assumption."
        return text, "clarify-answer"

    def _next_follow_up(self, ctx: TurnContext) -> str | None:
        asked = {t.text for t in ctx.transcript if t.speaker == "interviewer"}
        pool: list[str] = []
        if ctx.phase == "high-level-design":
            pool = [
                "Why does each component exist? Which one would you cut first, and what breaks?",
                "Walk me through one request end to end: where does it wait longest?",
            ]
        elif ctx.phase == "deep-dive":
            said = " ".join(
                t.text.lower()
                for t in ctx.transcript
                if t.speaker == "candidate" and t.phase == "deep-dive"
            )
            chosen = max(
                ctx.guide.deep_dives,
                key=lambda d: sum(w in said for w in d.title.lower().split()),
                default=None,
            )
            if chosen is not None:
                pool = [f"How would you think about this: {p}?" for p in chosen.follow_ups]
                pool.append(f"What are the trade-offs of your {chosen.title.lower()} choices?")
        elif ctx.phase == "scale-reliability":
            pool = [
                f"What happens to {t.lower()} when traffic grows 10x?"
                for t in ctx.guide.scale_topics
            ]
            pool.append("What fails first, and what does the user see when it does?")
        elif ctx.phase == "wrap-up":
            pool = ["What would you do differently with another week?"]
        for line in pool:
            if line not in asked:
                return line
        return None
