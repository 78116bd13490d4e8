"""The content library: load the data once, then answer for questions, rubrics and days."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from threading import Lock
from typing import Literal

from pydantic import Field

from content.errors import ContentError
from content.generation import Schedule, build_schedule, generated_day_plan
from content.linking import QuestionLinker
from content.paths import DEFAULT_DATA_DIR, override_path
from content.schema import (
    BANK_ID_RE,
    DAY_ID_RE,
    BankInfo,
    DayPlan,
    DayQuestion,
    InterviewGuide,
    MatchMethod,
    Question,
    Section,
    StrictModel,
    bank_id,
    day_question_id,
)
from content.validation import LoadedContent, load_content, read_override

_LOOSE_BANK_ID = re.compile(r"^E([0-9]{1,2})-([0-9]{1,3})$")
_LOOSE_DAY_ID = re.compile(r"^D([0-9]{1,3})-([0-9]{1,2})$")


class ResolvedDayQuestion(StrictModel):
    """A day question with what grading needs: its bank link and the rubric it is graded on."""

    id: str
    day: int
    position_id: str
    text: str
    bank_id: str | None
    match_confidence: float | None
    match_method: MatchMethod | None
    rubric: list[str] = Field(default_factory=list)
    bank: Question | None = None

    @property
    def has_rubric(self) -> bool:
        """Return whether the question can be graded against rubric points."""
        return bool(self.rubric)


def normalise_id(qid: str) -> str:
    """Return a question id spelt canonically ("e3-82" -> "E3-082", "d97-1" -> "D097-01")."""
    text = qid.strip().upper()
    loose_bank = _LOOSE_BANK_ID.match(text)
    if loose_bank:
        return bank_id(int(loose_bank[1]), int(loose_bank[2]))
    loose_day = _LOOSE_DAY_ID.match(text)
    if loose_day:
        return day_question_id(int(loose_day[1]), int(loose_day[2]))
    return text


@dataclass(frozen=True)
class _OverrideCacheEntry:
    stamp: tuple[int, int]
    plan: DayPlan


class Library:
    """The validated curriculum: bank, guide and the plan of every day 1..days_total."""

    def __init__(self, content: LoadedContent) -> None:
        if content.guide is None:
            raise ContentError(f"{content.data_dir}: the interview guide did not load")
        self.data_dir = content.data_dir
        self.info: BankInfo = content.info
        self.sections: list[Section] = list(content.sections)
        self.questions: dict[str, Question] = dict(
            sorted(content.questions.items(), key=lambda kv: (kv[1].section, kv[1].number))
        )
        self.guide: InterviewGuide = content.guide
        self.days_total: int = content.days_total
        self.authored: dict[int, DayPlan] = dict(sorted(content.plans.items()))
        self.sketch_points: dict[str, list[str]] = dict(content.sketch_points)
        self._content = content
        self._overrides: dict[int, _OverrideCacheEntry] = {}
        self._lock = Lock()

    @cached_property
    def linker(self) -> QuestionLinker:
        """Return the linker over this bank (built on first use)."""
        return QuestionLinker(self.questions.values())

    @cached_property
    def schedule(self) -> Schedule:
        """Return which bank questions each generated day asks."""
        return build_schedule(self.questions.values(), self.days_total, self.authored)

    @property
    def section_by_number(self) -> dict[int, Section]:
        """Return the sections keyed by their number."""
        return {s.number: s for s in self.sections}

    def _check_day(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, int):
            raise ContentError(f"Day must be a whole number, not {n!r}.")
        if not 1 <= n <= self.days_total:
            raise ContentError(
                f"Day {n} is outside the curriculum: days run from 1 to {self.days_total}."
            )

    def _override(self, n: int) -> DayPlan | None:
        path = override_path(self.data_dir, n)
        try:
            stat = path.stat()
        except FileNotFoundError:
            self._overrides.pop(n, None)
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._overrides.get(n)
            if cached is not None and cached.stamp == stamp:
                return cached.plan
        plan, issues = read_override(path, self._content)
        if plan is None:
            shown = "; ".join(str(issue) for issue in issues[:3])
            raise ContentError(f"The override for day {n} is invalid: {shown}")
        plan = self.linker.link_plan(plan, relink=False)
        with self._lock:
            self._overrides[n] = _OverrideCacheEntry(stamp=stamp, plan=plan)
        return plan

    def generated_day(self, n: int) -> DayPlan:
        """Return the plan generated from the bank for day `n`, ignoring authored plans."""
        self._check_day(n)
        ids = self.schedule.days.get(n)
        if ids is None:
            raise ContentError(f"Day {n} is authored; it has no generated plan.")
        return generated_day_plan(n, self.days_total, ids, self.questions, self.section_by_number)

    def day(self, n: int) -> DayPlan:
        """Return day `n`: an organiser's override, else the authored plan, else a generated one."""
        self._check_day(n)
        override = self._override(n)
        if override is not None:
            return override
        if n in self.authored:
            return self.authored[n]
        return self.generated_day(n)

    def days(self) -> list[DayPlan]:
        """Return the plan of every day in order."""
        return [self.day(n) for n in range(1, self.days_total + 1)]

    def _unknown(self, qid: str) -> ContentError:
        known = list(self.questions) + [q.id for p in self.authored.values() for q in p.questions]
        close = difflib.get_close_matches(normalise_id(qid), known, n=3, cutoff=0.6)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        return ContentError(f"There is no question {qid.strip()!r}.{hint}")

    def question(self, qid: str) -> Question:
        """Return the bank question `qid` (e.g. "E3-082"); raise ContentError naming close ids."""
        key = normalise_id(qid)
        question = self.questions.get(key)
        if question is None:
            raise self._unknown(qid)
        return question

    def _resolve_day_question(self, key: str, original: str) -> ResolvedDayQuestion:
        match = DAY_ID_RE.match(key)
        if match is None:
            raise self._unknown(original)
        day = int(match["day"])
        if not 1 <= day <= self.days_total:
            raise self._unknown(original)
        plan = self.day(day)
        question = plan.question(key)
        if question is None:
            raise self._unknown(original)
        return self._resolved(plan, question)

    def _resolved(self, plan: DayPlan, question: DayQuestion) -> ResolvedDayQuestion:
        bank = self.questions.get(question.bank_id) if question.bank_id else None
        return ResolvedDayQuestion(
            id=question.id,
            day=plan.day,
            position_id=plan.position_id(question),
            text=question.text,
            bank_id=question.bank_id,
            match_confidence=question.match_confidence,
            match_method=question.match_method,
            rubric=self._bank_rubric(bank) if bank else [],
            bank=bank,
        )

    def find_question(self, qid: str) -> Question | ResolvedDayQuestion:
        """Return a bank question for a bank id, or the day question a D-id names, resolved."""
        key = normalise_id(qid)
        if BANK_ID_RE.match(key):
            return self.question(key)
        return self._resolve_day_question(key, qid)

    def _bank_rubric(self, question: Question) -> list[str]:
        if question.rubric:
            return list(question.rubric)
        return list(self.sketch_points.get(question.id, []))

    def rubric_for(self, qid: str) -> list[str]:
        """Return the points an answer to `qid` is graded on: its rubric, else its sketch's steps.

        Empty when there are none. A coding question carries no rubric; a prose answer to it is
        graded against the points written from its solution sketch (see `rubric_origin`).
        """
        found = self.find_question(qid)
        if isinstance(found, Question):
            return self._bank_rubric(found)
        return list(found.rubric)

    def rubric_origin(self, qid: str) -> Literal["rubric", "sketch"] | None:
        """Tell where `qid`'s grading points come from: the rubric, the solution sketch, or none."""
        found = self.find_question(qid)
        bank = found if isinstance(found, Question) else found.bank
        if bank is None:
            return None
        if bank.rubric:
            return "rubric"
        return "sketch" if bank.id in self.sketch_points else None

    def grading_points_for(self, qid: str) -> list[str]:
        """Return what `qid` is judged on: rubric, else solution sketch, else testing note."""
        found = self.find_question(qid)
        bank = found if isinstance(found, Question) else found.bank
        return bank.grading_points if bank is not None else []

    def question_ids(self) -> list[str]:
        """Return every bank id followed by every authored day-question id."""
        return list(self.questions) + [q.id for p in self.authored.values() for q in p.questions]


@lru_cache(maxsize=8)
def _load(resolved: Path) -> Library:
    content, issues = load_content(resolved)
    if issues:
        listed = "\n".join(f"  {issue}" for issue in issues[1:10])
        more = f"\n  ... and {len(issues) - 10} more" if len(issues) > 10 else ""
        raise ContentError(
            f"The content in {resolved} has {len(issues)} error(s), first {issues[0]}; "
            f"run `studybot content check` to list them all.\n{listed}{more}".rstrip()
        )
    return Library(content)


def load_library(data_dir: Path | None = None) -> Library:
    """Return the library for `data_dir` (default: the shipped content/data), cached per path."""
    return _load((data_dir or DEFAULT_DATA_DIR).resolve())


def clear_library_cache() -> None:
    """Forget every loaded library so the next load reads the files again."""
    _load.cache_clear()
