"""The grading contract: what a grader gets, what it returns, and the one error a member sees."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator

Verdict = Literal["covered", "partial", "missing"]
DecidedBy = Literal["offline", "llm"]
GraderKind = Literal["offline", "llm", "cascade"]

VERDICTS: tuple[Verdict, ...] = ("covered", "partial", "missing")
# A partly covered point earns half of a covered one: the score stays explainable point by point.
VERDICT_CREDIT: dict[Verdict, float] = {"covered": 1.0, "partial": 0.5, "missing": 0.0}
VERDICT_MARK: dict[Verdict, str] = {"covered": "✅", "partial": "◐", "missing": "❌"}

# About 2,000 words: longer than any written interview answer, short enough that one answer can
# neither stall the embedding model nor blow an LLM call's token budget.
MAX_ANSWER_CHARS = 12_000


class GraderError(ValueError):
    """A grading problem whose message is written for the member and safe to show as it is."""


class RubricQuestion(BaseModel):
    """A question as the grader needs it: its id, text, rubric points and kind."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    text: str
    rubric: tuple[str, ...]
    kind: str = "concept"
    rubric_drafted: bool = False
    # True when the points are the steps of a coding question's solution sketch, not a rubric.
    from_sketch: bool = False

    @field_validator("rubric")
    @classmethod
    def _strip_points(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(point.strip() for point in value if point.strip())


class PointGrade(BaseModel):
    """The verdict on one rubric point, with the evidence quoted from the answer."""

    rubric: str
    verdict: Verdict
    evidence: str = ""
    comment: str = ""
    decided_by: DecidedBy
    # Offline verdicts: the grader's combined score for the point. LLM verdicts: the cosine
    # similarity of the quoted evidence and the point. None when not computed.
    similarity: float | None = None
    # True when an LLM verdict failed the evidence check and was lowered.
    downgraded: bool = False
    # True when the LLM found the point and the claim checks confidently did not: the point
    # scores the lower verdict until a cohort admin accepts or rejects the LLM's `claimed` one.
    provisional: bool = False
    claimed: Verdict | None = None


class Grade(BaseModel):
    """A whole grade: one result per rubric point in rubric order, a score and notices."""

    question_id: str
    score: float = Field(ge=0.0, le=1.0)
    points: list[PointGrade]
    feedback: str
    grader: GraderKind
    tokens_used: int = 0
    latency_ms: float = 0.0
    notices: list[str] = Field(default_factory=list)
    downgraded_points: int = 0
    rubric_drafted: bool = False
    # How many points the LLM was asked about (0 when the offline grader decided everything).
    llm_points: int = 0
    cached: Literal["exact", "semantic"] | None = None
    # True when the requested grader could not be used in full (LLM down, unreadable, over
    # budget): such a grade is not cached and may be graded again later.
    degraded: bool = False
    provisional_points: int = 0

    @property
    def cacheable(self) -> bool:
        """Tell whether another answer may be served this grade: nothing lowered or pending."""
        return not (self.degraded or self.downgraded_points or self.provisional_points)


class GradingDelayed(Exception):
    """Grading did not finish within its deadline; the answer is kept and graded again later."""

    def __init__(self, message: str = "Grading is taking longer than usual.") -> None:
        super().__init__(message)


@runtime_checkable
class Grader(Protocol):
    """Anything that grades an answer against a question's rubric."""

    async def grade(self, question: RubricQuestion, answer: str) -> Grade:
        """Grade one answer against the question's rubric."""
        ...


DRAFTED_RUBRIC_NOTICE = (
    "This question's rubric was drafted by an LLM and has not been reviewed by an admin yet."
)


SKETCH_RUBRIC_NOTICE = (
    "This coding question has no rubric: your answer was graded against the points from the "
    "solution sketch."
)


def rubric_notices(question: RubricQuestion) -> list[str]:
    """Return what the member must be told about the rubric itself."""
    notices = [DRAFTED_RUBRIC_NOTICE] if question.rubric_drafted else []
    if question.from_sketch:
        notices.append(SKETCH_RUBRIC_NOTICE)
    return notices


def score_points(points: list[PointGrade]) -> float:
    """Return the score in 0..1 that the verdicts earn."""
    if not points:
        return 0.0
    return round(sum(VERDICT_CREDIT[p.verdict] for p in points) / len(points), 4)


def summarise(points: list[PointGrade]) -> str:
    """Write the short overall feedback from the verdicts."""
    covered = sum(p.verdict == "covered" for p in points)
    partial = sum(p.verdict == "partial" for p in points)
    total = len(points)
    if covered == total:
        return f"All {total} rubric points covered."
    parts = [f"Covered {covered} of {total} rubric points"]
    if partial:
        parts.append(f"{partial} partly")
    text = ", ".join(parts) + "."
    first_gap = next((p for p in points if p.verdict != "covered"), None)
    if first_gap is not None:
        text += f" Work on: {shorten(first_gap.rubric, 90)}"
    return text


def shorten(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters at a word boundary, marking the cut."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut + "…"
