"""The curriculum's shape: bank sections and questions, day plans, and the interview guide."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator, model_validator

Difficulty = Literal["W", "M", "H", "S"]
Role = Literal["MLE", "MLS", "AS", "RE", "INF"]
QuestionKind = Literal["concept", "coding", "behavioral"]
RubricSource = Literal["want_to_hear", "testing_bullets", "testing_sentence"]
StoryKind = Literal["canonical", "probing"]
ItemKind = Literal["dsa", "topic", "prompts", "bank"]
DayOrigin = Literal["authored", "generated", "override"]
# "bank": the question is a bank entry itself; "lexical": linked automatically by text
# similarity; "manual": an organiser set bank_id by hand; "none": nothing in the bank matched
# well enough, so the question is graded without a rubric rather than against a wrong one.
MatchMethod = Literal["bank", "lexical", "manual", "none"]

DIFFICULTY_NAMES: dict[str, str] = {"W": "warm-up", "M": "medium", "H": "hard", "S": "stretch"}
BANK_ID_RE = re.compile(r"^E(?P<section>[1-9][0-9]?)-(?P<number>[0-9]{3})$")
DAY_ID_RE = re.compile(r"^D(?P<day>[0-9]{3})-(?P<k>[0-9]{2})$")


def bank_id(section: int, number: int) -> str:
    """Return the stable id of bank question `number` in section E.`section`."""
    return f"E{section}-{number:03d}"


def day_question_id(day: int, k: int) -> str:
    """Return the stable id of the k-th question (1-based) of a day plan."""
    return f"D{day:03d}-{k:02d}"


class StrictModel(BaseModel):
    """Base for content models: strict types, no unknown keys, immutable once loaded."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# ---------------------------------------------------------------- question bank


class Interlude(StrictModel):
    """Prose that sits between two questions of a section (e.g. a sub-heading paragraph)."""

    after: str
    text: str


class Section(StrictModel):
    """One section of the bank (E.1 to E.13) with its chapter range and introduction."""

    number: int = Field(ge=1)
    title: str = Field(min_length=1)
    chapter_start: int | None = None
    chapter_end: int | None = None
    marker: str | None = None
    intro: list[str] = Field(default_factory=list)
    interludes: list[Interlude] = Field(default_factory=list)

    @property
    def code(self) -> str:
        """Return the section's label as the bank prints it, e.g. "E.3"."""
        return f"E.{self.number}"

    @property
    def heading(self) -> str:
        """Return the section heading, e.g. "E.3 Inference internals (Chapters 21–35)"."""
        text = f"{self.code} {self.title}"
        if self.chapter_start is not None and self.chapter_end is not None:
            text += f" (Chapters {self.chapter_start}–{self.chapter_end})"
        return text

    @model_validator(mode="after")
    def _chapter_range_is_ordered(self) -> Section:
        if (self.chapter_start is None) != (self.chapter_end is None):
            raise ValueError("chapter_start and chapter_end are given together or not at all")
        if self.chapter_start is not None and self.chapter_end is not None:
            if self.chapter_start > self.chapter_end:
                raise ValueError("chapter_start is after chapter_end")
        return self


class Question(StrictModel):
    """One bank question with its tags, what it tests, and the rubric a grader checks."""

    id: str
    section: int = Field(ge=1)
    number: int = Field(ge=1)
    difficulty: Difficulty
    roles: list[Role] = Field(min_length=1)
    text: str = Field(min_length=1)
    chapters: list[int] = Field(default_factory=list)
    tests: str | None = None
    story: StoryKind | None = None
    companies: list[str] = Field(default_factory=list)
    kind: QuestionKind
    rubric_source: RubricSource | None = None
    rubric: list[str] = Field(default_factory=list)
    solution_sketch: str | None = None

    @model_validator(mode="after")
    def _id_matches_section_and_number(self) -> Question:
        expected = bank_id(self.section, self.number)
        if self.id != expected:
            raise ValueError(
                f"id {self.id!r} does not match section {self.section} and number "
                f"{self.number} (expected {expected!r})"
            )
        return self

    @field_validator("rubric")
    @classmethod
    def _rubric_points_are_not_blank(cls, points: list[str]) -> list[str]:
        if any(not point.strip() for point in points):
            raise ValueError("a rubric point is blank")
        return points

    @property
    def chapter(self) -> int | None:
        """Return the first chapter the question refers to, if any."""
        return self.chapters[0] if self.chapters else None

    @property
    def has_rubric(self) -> bool:
        """Return whether the question carries rubric points."""
        return bool(self.rubric)

    @property
    def grading_points(self) -> list[str]:
        """Return what an answer is judged on: rubric, else solution sketch, else testing note."""
        if self.rubric:
            return list(self.rubric)
        if self.solution_sketch:
            return [self.solution_sketch]
        # Warm-up entries carry no rubric; their note states the expected answer in brief.
        return [self.tests] if self.tests else []


class SketchPoints(StrictModel):
    """Rubric points written from solution sketches, for bank questions that have no rubric."""

    version: int = 1
    points: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("points")
    @classmethod
    def _points_are_real(cls, points: dict[str, list[str]]) -> dict[str, list[str]]:
        for qid, steps in points.items():
            if not BANK_ID_RE.match(qid):
                raise ValueError(f"{qid!r} is not a bank id like 'E12-466'")
            if not steps or any(not step.strip() for step in steps):
                raise ValueError(f"{qid} has a blank or no sketch point")
        return points


class BankInfo(StrictModel):
    """The bank's own prose: the text before the first section and after the last question."""

    preamble: list[str] = Field(default_factory=list)
    closing: list[str] = Field(default_factory=list)


class BankSectionFile(StrictModel):
    """One section file of the bank as stored under data/bank/."""

    section: Section
    questions: list[Question]


# ---------------------------------------------------------------- day plans


class DayQuestion(StrictModel):
    """A question posted on a day, with its link to the bank question whose rubric grades it."""

    id: str
    number: int = Field(ge=1)
    text: str = Field(min_length=1)
    bank_id: str | None = None
    match_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    match_method: MatchMethod | None = None

    @property
    def answer_id(self) -> str:
        """Return the id a member types in `/answer <id>` for this question."""
        return self.id

    @property
    def linked(self) -> bool:
        """Return whether the question is linked to a bank question (and so to its rubric)."""
        return self.bank_id is not None

    @model_validator(mode="after")
    def _link_is_consistent(self) -> DayQuestion:
        if self.match_method == "none" and self.bank_id is not None:
            raise ValueError("match_method 'none' cannot carry a bank_id")
        if self.match_method in ("bank", "lexical", "manual") and self.bank_id is None:
            raise ValueError(f"match_method {self.match_method!r} needs a bank_id")
        if self.bank_id is not None and not BANK_ID_RE.match(self.bank_id):
            raise ValueError(f"bank_id {self.bank_id!r} is not a bank id like 'E3-082'")
        return self


class DayItem(StrictModel):
    """One bullet of a track: a DSA problem, a topic, or a bare set of prompts."""

    kind: ItemKind
    title: str | None = None
    tag: str | None = None
    source: str | None = None
    drill: str | None = None
    questions: list[DayQuestion] = Field(default_factory=list)


class Track(StrictModel):
    """A block of a day plan under one heading, e.g. "DSA · NeetCode Backtracking"."""

    name: str = Field(min_length=1)
    category: str | None = None
    topic: str | None = None
    items: list[DayItem] = Field(default_factory=list)


class DayPlan(StrictModel):
    """Everything posted for one day: title, theme, tracks with items and numbered questions."""

    day: int
    total_days: int = Field(ge=1)
    title: str = Field(min_length=1)
    theme: str | None = None
    origin: DayOrigin = "authored"
    tracks: list[Track] = Field(default_factory=list)
    references: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _fill_question_ids(cls, data: Any) -> Any:
        # Hand-written day files may omit ids and the per-item numbers: derive them from the
        # order of appearance so that ids stay stable. A bank question keeps its bank id.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        data.pop("generated", None)
        day = data.get("day")
        if not isinstance(day, int):
            return data
        tracks = data.get("tracks")
        if not isinstance(tracks, list):
            return data
        new_tracks: list[Any] = []
        k = 0
        for track in tracks:
            if not isinstance(track, dict) or not isinstance(track.get("items"), list):
                new_tracks.append(track)
                continue
            new_items: list[Any] = []
            for item in track["items"]:
                if not isinstance(item, dict) or not isinstance(item.get("questions"), list):
                    new_items.append(item)
                    continue
                new_questions: list[Any] = []
                for position, question in enumerate(item["questions"], start=1):
                    k += 1
                    if isinstance(question, dict):
                        question = dict(question)
                        if "id" not in question:
                            if question.get("match_method") == "bank" and question.get("bank_id"):
                                question["id"] = question["bank_id"]
                            else:
                                question["id"] = day_question_id(day, k)
                        question.setdefault("number", position)
                    new_questions.append(question)
                new_items.append({**item, "questions": new_questions})
            new_tracks.append({**track, "items": new_items})
        data["tracks"] = new_tracks
        return data

    @model_validator(mode="after")
    def _day_and_ids_are_valid(self) -> DayPlan:
        if not 1 <= self.day <= self.total_days:
            raise ValueError(f"day {self.day} is outside 1..{self.total_days}")
        for k, question in enumerate(self.questions, start=1):
            if question.match_method == "bank":
                if question.id != question.bank_id:
                    raise ValueError(
                        f"question {question.id!r} is a bank question: its id must be its "
                        f"bank_id {question.bank_id!r}"
                    )
                continue
            expected = day_question_id(self.day, k)
            if question.id != expected:
                raise ValueError(
                    f"question id {question.id!r} should be {expected!r} "
                    "(day question ids follow the order of appearance)"
                )
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def generated(self) -> bool:
        """Return whether the plan was generated from the bank rather than written by hand."""
        return self.origin == "generated"

    @property
    def questions(self) -> list[DayQuestion]:
        """Return every question of the day in order of appearance."""
        return [q for track in self.tracks for item in track.items for q in item.questions]

    @property
    def dsa_items(self) -> list[DayItem]:
        """Return the day's DSA problem items (each names a problem a code drill may match)."""
        return [item for track in self.tracks for item in track.items if item.kind == "dsa"]

    def question(self, qid: str) -> DayQuestion | None:
        """Return the day's question with this id or D-id position, or None."""
        wanted = qid.strip().upper()
        questions = self.questions
        for question in questions:
            if question.id.upper() == wanted:
                return question
        match = DAY_ID_RE.match(wanted)
        if match and int(match["day"]) == self.day:
            k = int(match["k"])
            if 1 <= k <= len(questions):
                return questions[k - 1]
        return None

    def position_id(self, question: DayQuestion) -> str:
        """Return the D-id naming the position of `question` within this day."""
        for k, candidate in enumerate(self.questions, start=1):
            if candidate is question:
                return day_question_id(self.day, k)
        raise ValueError(f"{question.id} is not a question of day {self.day}")


# ---------------------------------------------------------------- interview guide


class Phase(StrictModel):
    """One timed phase of the 45-minute design interview."""

    number: int = Field(ge=1)
    name: str
    title: str
    start_minute: int = Field(ge=0)
    end_minute: int = Field(ge=0)
    focus: str
    deliverables: list[str]

    @property
    def minutes(self) -> int:
        """Return how long the phase lasts."""
        return self.end_minute - self.start_minute

    @model_validator(mode="after")
    def _ends_after_start(self) -> Phase:
        if self.end_minute <= self.start_minute:
            raise ValueError(f"phase {self.name!r} ends before it starts")
        return self


class ClarifyingQuestion(StrictModel):
    """A question to ask the interviewer, why it matters, and the answers to expect."""

    question: str
    why: str
    expected_answers: str


class KeyPoint(StrictModel):
    """A named point with its explanation, e.g. "Gateway Layer: Auth, rate limiting"."""

    name: str
    detail: str


class DeepDiveOption(StrictModel):
    """One deep-dive area to choose in phase 3, with its points and whiteboard sketch."""

    letter: str
    title: str
    key_points: list[str]
    whiteboard: str | None = None
    follow_up_points: list[str] = Field(default_factory=list)


class ScaleTopic(StrictModel):
    """A scale and reliability topic with its points and the numbers to mention."""

    topic: str
    key_points: str
    numbers: str


class FailureScenario(StrictModel):
    """A failure to walk through and the recovery steps in order."""

    name: str
    steps: list[str]


class TradeOff(StrictModel):
    """A row of the trade-off matrix."""

    name: str
    option_a: str
    option_b: str
    recommendation: str


class TradeOffDeepDive(StrictModel):
    """A worked trade-off example (e.g. batching) as drawn on the whiteboard."""

    title: str
    text: str


class TrapQuestion(StrictModel):
    """A trap question with the answer that fails and the answer that passes."""

    number: int
    question: str
    bad_answer: str
    good_answer: str


class CommonMistake(StrictModel):
    """A common mistake, why it is wrong, and what to do instead."""

    mistake: str
    why_wrong: str
    better_approach: str


class KeyNumber(StrictModel):
    """A number to know by heart, with its context."""

    metric: str
    value: str
    context: str


class RubricAspect(StrictModel):
    """What a good and a great candidate show on one aspect of the interview."""

    aspect: str
    good: str
    great: str


class InterviewGuide(StrictModel):
    """The 45-minute ML system design interview guide, phase by phase, with its tables."""

    title: str
    duration_minutes: int = Field(ge=1)
    phases: list[Phase] = Field(min_length=1)
    clarifying_questions: list[ClarifyingQuestion]
    sample_dialogue: str
    architecture_diagram: str
    design_key_points: list[KeyPoint]
    deep_dive_intro: str
    deep_dive_options: list[DeepDiveOption]
    scale_topics: list[ScaleTopic]
    failure_scenarios: list[FailureScenario]
    wrap_up_template: str
    trade_offs: list[TradeOff]
    trade_off_deep_dives: list[TradeOffDeepDive]
    trap_questions: list[TrapQuestion]
    common_mistakes: list[CommonMistake]
    questions_for_interviewer: list[str]
    key_numbers: list[KeyNumber]
    components_checklist: list[str]
    decisions_checklist: list[str]
    scoring_rubric: list[RubricAspect]
    red_flags: list[str]
    green_flags: list[str]

    @model_validator(mode="after")
    def _phases_tile_the_interview(self) -> InterviewGuide:
        previous_end = 0
        for phase in self.phases:
            if phase.start_minute != previous_end:
                raise ValueError(
                    f"phase {phase.name!r} starts at minute {phase.start_minute}, "
                    f"expected {previous_end}"
                )
            previous_end = phase.end_minute
        if previous_end != self.duration_minutes:
            raise ValueError(
                f"the phases end at minute {previous_end}, not at {self.duration_minutes}"
            )
        return self

    def phase_at(self, minute: float) -> Phase | None:
        """Return the phase running at `minute` from the start, or None past the end."""
        for phase in self.phases:
            if phase.start_minute <= minute < phase.end_minute:
                return phase
        return None
