"""Read a content data directory into validated models, collecting every problem with its line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from content.errors import ContentError
from content.paths import (
    APPENDIX_FILE,
    BANK_DIR,
    DAY_FILE_RE,
    GUIDE_FILE,
    OVERRIDES_DIR,
    PLANS_DIR,
    SECTION_FILE_RE,
    SKETCH_POINTS_FILE,
)
from content.schema import (
    BANK_ID_RE,
    BankInfo,
    BankSectionFile,
    DayPlan,
    InterviewGuide,
    Question,
    Section,
    SketchPoints,
)
from content.yamlio import YamlDocument, read_yaml

DEFAULT_DAYS_TOTAL = 133
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True, order=True)
class Issue:
    """One problem in the content, located by file and line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


@dataclass
class LoadedContent:
    """Everything in a data directory that passed validation."""

    data_dir: Path
    info: BankInfo = field(default_factory=BankInfo)
    sections: list[Section] = field(default_factory=list)
    questions: dict[str, Question] = field(default_factory=dict)
    guide: InterviewGuide | None = None
    plans: dict[int, DayPlan] = field(default_factory=dict)
    days_total: int = DEFAULT_DAYS_TOTAL
    unreadable_sections: set[int] = field(default_factory=set)
    # Rubric points from solution sketches, by bank id (coding questions have no rubric).
    sketch_points: dict[str, list[str]] = field(default_factory=dict)


def _loc_text(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for key in loc:
        if isinstance(key, int):
            parts.append(f"[{key}]")
        else:
            parts.append(f".{key}" if parts else str(key))
    return "".join(parts)


def validate_document(doc: YamlDocument, model: type[ModelT]) -> tuple[ModelT | None, list[Issue]]:
    """Validate a YAML document against `model`; return the model or issues with lines."""
    try:
        return model.model_validate(doc.data), []
    except ValidationError as exc:
        issues: list[Issue] = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            line = doc.line_of(loc)
            if not loc and message.startswith("day "):
                line = doc.line_of(("day",))
            elif not loc:
                # A rule across fields reports no location; find the value it names instead.
                for token in re.findall(r"'([^']+)'", message):
                    found = doc.line_of_scalar(token)
                    if found is not None:
                        line = found
                        break
            where = _loc_text(loc)
            issues.append(Issue(str(doc.path), line, f"{where}: {message}" if where else message))
        return None, issues


def _read(path: Path, issues: list[Issue]) -> YamlDocument | None:
    try:
        return read_yaml(path)
    except ContentError as exc:
        match = re.match(r"^(?P<path>.+?):(?P<line>[0-9]+): (?P<message>.*)$", str(exc))
        if match:
            issues.append(Issue(match["path"], int(match["line"]), match["message"]))
        else:
            issues.append(Issue(str(path), 1, str(exc).removeprefix(f"{path}: ")))
        return None


def _load_bank(content: LoadedContent, issues: list[Issue]) -> None:
    bank_dir = content.data_dir / BANK_DIR
    if not bank_dir.is_dir():
        issues.append(Issue(str(bank_dir), 1, "no question bank directory"))
        return
    appendix = bank_dir / APPENDIX_FILE
    if appendix.exists():
        doc = _read(appendix, issues)
        if doc is not None:
            info, found = validate_document(doc, BankInfo)
            issues.extend(found)
            if info is not None:
                content.info = info
    first_seen: dict[str, str] = {}
    section_files: dict[int, str] = {}
    for path in sorted(bank_dir.iterdir()):
        if path.name == APPENDIX_FILE or path.name.startswith("."):
            continue
        name_match = SECTION_FILE_RE.match(path.name)
        if name_match is None:
            issues.append(Issue(str(path), 1, "unexpected file: bank sections are eNN.yaml"))
            continue
        doc = _read(path, issues)
        loaded, found = validate_document(doc, BankSectionFile) if doc else (None, [])
        issues.extend(found)
        if doc is None or loaded is None:
            content.unreadable_sections.add(int(name_match["number"]))
            continue
        number = loaded.section.number
        if number != int(name_match["number"]):
            issues.append(
                Issue(
                    str(path),
                    doc.line_of(("section", "number")),
                    f"section {number} is in the file for section {int(name_match['number'])}",
                )
            )
        if number in section_files:
            issues.append(
                Issue(
                    str(path),
                    doc.line_of(("section", "number")),
                    f"section E.{number} is also defined in {section_files[number]}",
                )
            )
            continue
        section_files[number] = str(path)
        content.sections.append(loaded.section)
        for index, question in enumerate(loaded.questions):
            where = f"{path}:{doc.line_of(('questions', index, 'id'))}"
            if question.section != number:
                issues.append(
                    Issue(
                        str(path),
                        doc.line_of(("questions", index, "section")),
                        f"{question.id} says section {question.section} in section E.{number}",
                    )
                )
            if question.id in first_seen:
                issues.append(
                    Issue(
                        str(path),
                        doc.line_of(("questions", index, "id")),
                        f"duplicate id {question.id} (first at {first_seen[question.id]})",
                    )
                )
                continue
            if question.rubric_source is not None and not question.rubric:
                issues.append(
                    Issue(
                        str(path),
                        doc.line_of(("questions", index, "rubric")),
                        f"{question.id} has an empty rubric although its source had one "
                        f"({question.rubric_source})",
                    )
                )
            first_seen[question.id] = where
            content.questions[question.id] = question
    content.sections.sort(key=lambda s: s.number)
    if not content.sections:
        issues.append(Issue(str(bank_dir), 1, "the question bank has no section files"))


def _load_guide(content: LoadedContent, issues: list[Issue]) -> None:
    path = content.data_dir / GUIDE_FILE
    if not path.exists():
        issues.append(Issue(str(path), 1, "no interview guide"))
        return
    doc = _read(path, issues)
    if doc is not None:
        guide, found = validate_document(doc, InterviewGuide)
        issues.extend(found)
        content.guide = guide


def _load_sketch_points(content: LoadedContent, issues: list[Issue]) -> None:
    path = content.data_dir / SKETCH_POINTS_FILE
    if not path.exists():
        return
    doc = _read(path, issues)
    if doc is None:
        return
    loaded, found = validate_document(doc, SketchPoints)
    issues.extend(found)
    if loaded is None:
        return
    for qid, steps in loaded.points.items():
        line = doc.line_of(("points", qid))
        question = content.questions.get(qid)
        if question is None:
            section = BANK_ID_RE.match(qid)
            if section is None or int(section["section"]) not in content.unreadable_sections:
                issues.append(Issue(str(path), line, f"sketch points for unknown question {qid}"))
            continue
        if question.rubric:
            issues.append(
                Issue(str(path), line, f"{qid} has a rubric; sketch points would never be used")
            )
            continue
        content.sketch_points[qid] = list(steps)


def _check_links(plan: DayPlan, doc: YamlDocument, content: LoadedContent) -> list[Issue]:
    issues: list[Issue] = []
    for question in plan.questions:
        if question.bank_id is None or question.bank_id in content.questions:
            continue
        section = BANK_ID_RE.match(question.bank_id)
        # A link into a section whose file did not load is not a second problem.
        if section is None or int(section["section"]) not in content.unreadable_sections:
            line = doc.line_of_scalar(question.bank_id) or 1
            issues.append(
                Issue(
                    str(doc.path),
                    line,
                    f"{question.id} links to unknown question {question.bank_id}",
                )
            )
    return issues


def _load_plans(content: LoadedContent, issues: list[Issue]) -> None:
    plans_dir = content.data_dir / PLANS_DIR
    if not plans_dir.is_dir():
        return
    totals: dict[int, str] = {}
    for path in sorted(plans_dir.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in (".yaml", ".yml"):
            continue
        name_match = DAY_FILE_RE.match(path.name)
        if name_match is None:
            issues.append(Issue(str(path), 1, "unexpected file: day plans are dayNNN.yaml"))
            continue
        doc = _read(path, issues)
        if doc is None:
            continue
        plan, found = validate_document(doc, DayPlan)
        issues.extend(found)
        if plan is None:
            continue
        if plan.day != int(name_match["day"]):
            issues.append(
                Issue(str(path), doc.line_of(("day",)), f"day {plan.day} is in {path.name}")
            )
            continue
        if plan.origin != "authored":
            issues.append(
                Issue(str(path), doc.line_of(("origin",)), "plans/ holds authored days only")
            )
        issues.extend(_check_links(plan, doc, content))
        totals.setdefault(plan.total_days, str(path))
        content.plans[plan.day] = plan
    if len(totals) > 1:
        described = ", ".join(f"{total} in {where}" for total, where in sorted(totals.items()))
        issues.append(
            Issue(str(plans_dir), 1, f"the day plans disagree on the number of days: {described}")
        )
    elif totals:
        content.days_total = next(iter(totals))


def load_content(data_dir: Path) -> tuple[LoadedContent, list[Issue]]:
    """Read the bank, the guide and the authored plans; return what loaded and every issue."""
    content = LoadedContent(data_dir=data_dir)
    issues: list[Issue] = []
    if not data_dir.is_dir():
        return content, [Issue(str(data_dir), 1, "no such content directory")]
    _load_bank(content, issues)
    _load_sketch_points(content, issues)
    _load_guide(content, issues)
    _load_plans(content, issues)
    return content, issues


def expand_override(data: Any, day: int, content: LoadedContent) -> Any:
    """Fill what a hand-written override may leave out: totals, bank texts, link methods."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    data.setdefault("day", day)
    data.setdefault("total_days", content.days_total)
    data["origin"] = "override"
    tracks = data.get("tracks")
    if not isinstance(tracks, list):
        return data
    new_tracks: list[Any] = []
    for track in tracks:
        if not isinstance(track, dict) or not isinstance(track.get("items"), list):
            new_tracks.append(track)
            continue
        items: list[Any] = []
        for item in track["items"]:
            if not isinstance(item, dict) or not isinstance(item.get("questions"), list):
                items.append(item)
                continue
            questions: list[Any] = []
            for question in item["questions"]:
                if isinstance(question, dict):
                    question = dict(question)
                    bank_id = question.get("bank_id")
                    if isinstance(bank_id, str) and "text" not in question:
                        # Shorthand: `- bank_id: E3-082` asks that bank question as it is.
                        question.setdefault("match_method", "bank")
                        known = content.questions.get(bank_id)
                        # An unknown id keeps itself as text so the check reports the link.
                        question["text"] = known.text if known else bank_id
                    elif isinstance(bank_id, str):
                        question.setdefault("match_method", "manual")
                    if question.get("match_method") in ("bank", "manual"):
                        question.setdefault("match_confidence", 1.0)
                questions.append(question)
            items.append({**item, "questions": questions})
        new_tracks.append({**track, "items": items})
    data["tracks"] = new_tracks
    return data


def read_override(path: Path, content: LoadedContent) -> tuple[DayPlan | None, list[Issue]]:
    """Read an organiser's override file; return the plan (unlinked questions as given)."""
    issues: list[Issue] = []
    name_match = DAY_FILE_RE.match(path.name)
    if name_match is None:
        return None, [Issue(str(path), 1, "override files are named dayNNN.yaml, e.g. day005.yaml")]
    day = int(name_match["day"])
    doc = _read(path, issues)
    if doc is None:
        return None, issues
    if not isinstance(doc.data, dict):
        return None, [Issue(str(path), doc.line_of(()), "an override is a mapping with tracks")]
    expanded = YamlDocument(
        path=doc.path, data=expand_override(doc.data, day, content), root=doc.root
    )
    plan, found = validate_document(expanded, DayPlan)
    issues.extend(found)
    if plan is None:
        return None, issues
    if plan.day != day:
        issues.append(Issue(str(path), doc.line_of(("day",)), f"day {plan.day} is in {path.name}"))
        return None, issues
    if plan.total_days != content.days_total:
        issues.append(
            Issue(
                str(path),
                doc.line_of(("total_days",)),
                f"total_days {plan.total_days} differs from the curriculum's {content.days_total}",
            )
        )
    link_issues = _check_links(plan, doc, content)
    issues.extend(link_issues)
    return (plan if not issues else None), issues


def check_overrides(content: LoadedContent) -> list[Issue]:
    """Validate every organiser override under days/."""
    overrides = content.data_dir / OVERRIDES_DIR
    if not overrides.is_dir():
        return []
    issues: list[Issue] = []
    for path in sorted(overrides.iterdir()):
        if path.name.startswith(".") or path.suffix.lower() not in (".yaml", ".yml"):
            continue
        _, found = read_override(path, content)
        issues.extend(found)
    return issues


def check_data_dir(data_dir: Path) -> list[Issue]:
    """Return every problem in a data directory: schema, duplicates, rubrics, days, links."""
    content, issues = load_content(data_dir)
    if content.sections:
        issues.extend(check_overrides(content))
    return sorted(set(issues))
