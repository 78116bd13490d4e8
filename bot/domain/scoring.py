"""Points: the rules that turn what a member did into events on the points ledger.

Every award is one ledger event keyed by (member, reason, ref): `reason` says why the points
were given and `ref` names the source record (an answer, a mock room, a submission, a review),
so the same source can never pay the same reason twice, whoever writes it and however often.

| reason             | when                                   | points                          |
| ------------------ | -------------------------------------- | ------------------------------- |
| `answer`           | an answer is graded                    | weight x round(10 x score), the |
|                    |                                        | improvement on the best so far  |
| `correction`       | an admin accepts a grade review        | what it adds to the best        |
| `mock_interviewer` | a mock finishes, for the interviewer   | 15                              |
| `mock_candidate`   | a mock finishes, for the candidate     | 20                              |
| `scorecard_given`  | the interviewer hands in the scorecard | 5                               |
| `drill_passed`     | a drill passes for the first time      | 15                              |
| `drill_best`       | a personal best beyond timing noise    | 5                               |
| `drill_first`      | first place on a drill board           | 10                              |

Difficulty weights come from the bank's tags: W 1, M 2, H 3, S 4; a day-plan question without a
bank link counts as M.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

POINTS_PER_ANSWER = 10  # at full score and weight 1
DIFFICULTY_WEIGHTS: dict[str, int] = {"W": 1, "M": 2, "H": 3, "S": 4}
DEFAULT_DIFFICULTY = "M"


class Reason(StrEnum):
    """Why a ledger event was written; with its member and ref it is the event's unique key."""

    ANSWER = "answer"
    CORRECTION = "correction"
    MOCK_INTERVIEWER = "mock_interviewer"
    MOCK_CANDIDATE = "mock_candidate"
    SCORECARD_GIVEN = "scorecard_given"
    DRILL_PASSED = "drill_passed"
    DRILL_BEST = "drill_best"
    DRILL_FIRST = "drill_first"


# The ledger's coarse kind (what leaderboards count as a mock, a drill...) for each reason.
KIND_OF_REASON: dict[Reason, str] = {
    Reason.ANSWER: "answer",
    Reason.CORRECTION: "correction",
    Reason.MOCK_INTERVIEWER: "mock",
    Reason.MOCK_CANDIDATE: "mock",
    Reason.SCORECARD_GIVEN: "mock",
    Reason.DRILL_PASSED: "drill",
    Reason.DRILL_BEST: "drill",
    Reason.DRILL_FIRST: "drill",
}

POINTS_MOCK_COMPLETED: dict[str, int] = {"interviewer": 15, "candidate": 20}
POINTS_SCORECARD_GIVEN = 5
POINTS_DRILL_PASSED = 15
POINTS_DRILL_PERSONAL_BEST = 5
POINTS_DRILL_FIRST_PLACE = 10
_DRILL_REASONS = {
    "passed": Reason.DRILL_PASSED,
    "best": Reason.DRILL_BEST,
    "first": Reason.DRILL_FIRST,
}


@dataclass(frozen=True)
class Award:
    """Points owed for one reason from one source record."""

    reason: Reason
    ref: str
    points: int

    @property
    def kind(self) -> str:
        """Return the coarse kind of the award (answer, correction, mock, drill)."""
        return KIND_OF_REASON[self.reason]


def difficulty_weight(difficulty: str | None) -> int:
    """Return the weight of a bank difficulty tag; M when there is none or it is unknown."""
    return DIFFICULTY_WEIGHTS.get(difficulty or DEFAULT_DIFFICULTY, DIFFICULTY_WEIGHTS["M"])


def difficulty_of(question: object) -> str | None:
    """Return the difficulty tag of a bank question, or of the bank question a day question links.

    None for a day-plan question with no bank link (it counts as M).
    """
    tag = getattr(question, "difficulty", None)
    if tag is None:
        bank = getattr(question, "bank", None)
        tag = getattr(bank, "difficulty", None) if bank is not None else None
    return str(tag) if tag in DIFFICULTY_WEIGHTS else None


def points_for_score(score: float, difficulty: str | None = None) -> int:
    """Return the points a grade of this score is worth on a question of this difficulty.

    The score is rounded to tenths first, so a question's points are always a multiple of its
    weight and the rule is exact when rescaling older events.
    """
    clamped = min(1.0, max(0.0, score))
    return difficulty_weight(difficulty) * round(clamped * POINTS_PER_ANSWER)


def answer_award(score: float, previous_best: float | None, difficulty: str | None = None) -> int:
    """Return the points to add for a new grade: only the improvement over the best so far.

    A member may answer a question again; the best grade counts, so points only ever grow and
    a weaker retry earns nothing.
    """
    before = points_for_score(previous_best or 0.0, difficulty)
    gained = points_for_score(score, difficulty) - before
    return max(0, gained)


def mock_awards(
    room_id: int, *, interviewer_id: int | None, candidate_id: int | None
) -> tuple[tuple[int, Award], ...]:
    """Return (member id, award) for a finished mock: each role, and the scorecard given."""
    ref = f"mock:{room_id}"
    out: list[tuple[int, Award]] = []
    if interviewer_id is not None:
        points = POINTS_MOCK_COMPLETED["interviewer"]
        out.append((interviewer_id, Award(Reason.MOCK_INTERVIEWER, f"{ref}:interviewer", points)))
        scorecard = Award(Reason.SCORECARD_GIVEN, f"{ref}:scorecard", POINTS_SCORECARD_GIVEN)
        out.append((interviewer_id, scorecard))
    if candidate_id is not None:
        points = POINTS_MOCK_COMPLETED["candidate"]
        out.append((candidate_id, Award(Reason.MOCK_CANDIDATE, f"{ref}:candidate", points)))
    return tuple(out)


def drill_awards(
    *, first_pass: bool, personal_best: bool, first_place: bool
) -> tuple[tuple[str, int], ...]:
    """Return the (reason, points) a judged passing submission earns.

    Points come for the first pass of a drill only (resubmitting the same code earns nothing),
    and for each measurable improvement: a personal best, or taking first place.
    """
    awards: list[tuple[str, int]] = []
    if first_pass:
        awards.append(("passed", POINTS_DRILL_PASSED))
    if personal_best:
        awards.append(("best", POINTS_DRILL_PERSONAL_BEST))
    if first_place:
        awards.append(("first", POINTS_DRILL_FIRST_PLACE))
    return tuple(awards)


def reason_of(kind: str, ref: str) -> Reason:
    """Return the reason of a ledger event from its kind and ref, as written by any source.

    Sources name their refs `answer:<id>`, `review:<id>`, `mock:<room>:<role>` (and
    `mock:<room>:scorecard`), `drill:<passed|best|first>:<submission>`.
    """
    parts = ref.split(":")
    if kind == "mock" or parts[0] == "mock":
        role = parts[2] if len(parts) > 2 else ""
        return {"candidate": Reason.MOCK_CANDIDATE, "scorecard": Reason.SCORECARD_GIVEN}.get(
            role, Reason.MOCK_INTERVIEWER
        )
    if kind == "drill" or parts[0] == "drill":
        return _DRILL_REASONS.get(parts[1] if len(parts) > 1 else "", Reason.DRILL_PASSED)
    if kind == "correction" or parts[0] == "review":
        return Reason.CORRECTION
    return Reason.ANSWER


def rescaled_answer_points(old_points: int, difficulty: str | None) -> int:
    """Return what an event written at the old rule (10 x score, no weight) is worth now.

    The old rule paid round(10 x score) differences; the new one pays the same differences
    times the question's weight, so the rescale is exact.
    """
    return old_points * difficulty_weight(difficulty)
