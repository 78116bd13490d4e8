"""What the interviewer engines read and return: the guide, the scenario, the conversation.

Plain frozen data, so the engines never see the bot, the database or a chat platform; the bot
builds these from the curriculum (`from_guide`, `scenario_brief`) and from its stored turns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Speaker = Literal["interviewer", "candidate"]
Rating = Literal["no hire", "hire", "strong hire"]
# What an interviewer's line does; the scripted engine reads its own progress from these.
INTENTS = (
    "opening",
    "phase-prompt",
    "clarify-answer",
    "clarify-outside",
    "red-flag-jump",
    "deliverables",
    "trap",
    "pushback",
    "follow-up",
    "ack",
    "wrap",
)


@dataclass(frozen=True)
class PhaseBrief:
    """One phase of the guide: slug, minutes, focus, deliverables."""

    slug: str
    name: str
    start_min: float
    end_min: float
    focus: str
    deliverables: tuple[str, ...]


@dataclass(frozen=True)
class Fact:
    """Something the scenario states: the question it answers and the answer."""

    question: str
    answer: str


@dataclass(frozen=True)
class Trap:
    """A trap question of the guide, with the bad and the good answer."""

    question: str
    bad_answer: str
    good_answer: str
    generic: bool = True  # applies to any ML system design, not only the guide's own


@dataclass(frozen=True)
class DeepDive:
    """A deep-dive option: its title, key points (the solution) and follow-up points."""

    letter: str
    title: str
    key_points: tuple[str, ...]
    follow_ups: tuple[str, ...]


@dataclass(frozen=True)
class Aspect:
    """A scored aspect: what good (hire) and great (strong hire) look like."""

    aspect: str
    good: str
    great: str


@dataclass(frozen=True)
class GuideBrief:
    """Everything of the interview guide the interviewer engines use."""

    phases: tuple[PhaseBrief, ...]
    clarifying: tuple[Fact, ...]
    deep_dives: tuple[DeepDive, ...]
    scale_topics: tuple[str, ...]
    traps: tuple[Trap, ...]
    aspects: tuple[Aspect, ...]
    red_flags: tuple[str, ...]
    green_flags: tuple[str, ...]
    design_points: tuple[str, ...]  # the guide's design: never given to the candidate
    wrap_up: str = "Summarise your key decisions and the open questions."

    def phase(self, slug: str) -> PhaseBrief:
        """Return a phase by slug (the first when unknown)."""
        return next((p for p in self.phases if p.slug == slug), self.phases[0])


@dataclass(frozen=True)
class ScenarioBrief:
    """The design problem of one mock and the facts the interviewer may give about it."""

    id: str
    title: str
    text: str
    facts: tuple[Fact, ...]
    full_brief: bool = False  # the guide's own scenario: expected answers, its own traps
    constraints: str = ""  # stated once at the start (scenarios without a brief of their own)

    def facts_text(self) -> str:
        """Return every fact as one text (what a reply may state as a requirement)."""
        return "\n".join([self.text, self.constraints, *(f.answer for f in self.facts)])


@dataclass(frozen=True)
class Turn:
    """One line of the conversation."""

    speaker: Speaker
    phase: str
    minute: float
    text: str
    intent: str = ""
    engine: str = ""
    note: str = ""


@dataclass(frozen=True)
class TurnContext:
    """What an engine knows when it speaks: guide, scenario, phase, minute, the conversation."""

    guide: GuideBrief
    scenario: ScenarioBrief
    phase: str
    minute: float
    transcript: tuple[Turn, ...]

    @property
    def last_candidate(self) -> str:
        """Return the candidate's latest line ("" when they have not spoken)."""
        for turn in reversed(self.transcript):
            if turn.speaker == "candidate":
                return turn.text
        return ""

    def intents(self, *, phase: str | None = None) -> set[str]:
        """Return what the interviewer did so far (in one phase, or in all)."""
        return {
            t.intent
            for t in self.transcript
            if t.speaker == "interviewer" and (phase is None or t.phase == phase)
        }


@dataclass(frozen=True)
class InterviewerReply:
    """A line the interviewer says, which engine said it, and what it cost."""

    text: str
    intent: str
    engine: str
    tokens: int = 0
    llm_s: float = 0.0  # time spent waiting for the model
    note: str = ""  # why a model's reply was replaced, or that the mock fell back


class Interviewer(Protocol):
    """The port both engines implement: answer the candidate's latest line."""

    name: str

    async def reply(self, ctx: TurnContext) -> InterviewerReply:
        """Return what the interviewer says next."""
        ...


@dataclass(frozen=True)
class AspectRating:
    """One scored aspect: the rating and the candidate's own words as evidence."""

    aspect: str
    rating: Rating
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class Practice:
    """A thing to practise next, linked to a bank question on that topic."""

    aspect: str
    advice: str
    question_id: str
    question: str


@dataclass(frozen=True)
class SoloScorecard:
    """The scorecard the interviewer fills in from the transcript."""

    aspects: tuple[AspectRating, ...]
    red_flags: tuple[str, ...]
    green_flags: tuple[str, ...]
    practise: tuple[Practice, ...] = field(default=())

    def as_json(self) -> dict[str, Any]:
        """Return the scorecard as JSON-ready data."""
        return {
            "aspects": [
                {"aspect": a.aspect, "rating": a.rating, "evidence": list(a.evidence)}
                for a in self.aspects
            ],
            "flags": {"red": list(self.red_flags), "green": list(self.green_flags)},
            "practise": [
                {
                    "aspect": p.aspect,
                    "advice": p.advice,
                    "question_id": p.question_id,
                    "question": p.question,
                }
                for p in self.practise
            ],
        }


def candidate_text(transcript: Sequence[Turn]) -> str:
    """Return everything the candidate said, one line per turn."""
    return "\n".join(t.text for t in transcript if t.speaker == "candidate")
