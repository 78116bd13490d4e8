"""Import seed text files into the YAML content library, reproducibly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from content.errors import ContentError
from content.linking import QuestionLinker
from content.parsing.bank import ParsedBank, looks_like_bank, parse_bank
from content.parsing.dayplan import looks_like_day_plan, parse_day_plan
from content.parsing.guide import looks_like_guide, parse_guide
from content.paths import (
    BANK_DIR,
    DEFAULT_DATA_DIR,
    GUIDE_FILE,
    PLANS_DIR,
    appendix_path,
    plan_path,
    section_path,
)
from content.schema import BankSectionFile, DayPlan, InterviewGuide, Question
from content.validation import load_content
from content.yamlio import write_yaml

SourceFormat = Literal["bank", "day_plan", "guide"]


@dataclass
class ImportReport:
    """What an import read and wrote."""

    formats: dict[str, SourceFormat] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)
    questions: int = 0
    rubric_points: int = 0
    day_questions: int = 0
    linked_day_questions: int = 0


def detect_format(text: str) -> SourceFormat:
    """Return which seed format `text` is in, judged by its content; raise if none fits."""
    found: list[SourceFormat] = []
    if looks_like_day_plan(text):
        found.append("day_plan")
    if looks_like_guide(text):
        found.append("guide")
    if looks_like_bank(text):
        found.append("bank")
    if len(found) != 1:
        what = "no known format" if not found else f"several formats ({', '.join(found)})"
        raise ContentError(
            f"cannot tell what this file is: it matches {what}; expected a question bank, "
            "a day plan ('Day N of M') or the Markdown interview guide"
        )
    return found[0]


def _header(source: str) -> str:
    return (
        f"Imported from {source} by `studybot content import`.\n"
        "Edit by hand if needed and run `studybot content check`; a re-import overwrites it."
    )


def _write_bank(bank: ParsedBank, source: str, out_dir: Path) -> list[Path]:
    bank_dir = out_dir / BANK_DIR
    written: list[Path] = []
    keep: set[Path] = set()
    path = appendix_path(out_dir)
    write_yaml(path, bank.info.model_dump(mode="json"), _header(source))
    written.append(path)
    keep.add(path)
    for section in bank.sections:
        questions = [q for q in bank.questions if q.section == section.number]
        data = BankSectionFile(section=section, questions=questions)
        path = section_path(out_dir, section.number)
        write_yaml(path, data.model_dump(mode="json"), _header(source))
        written.append(path)
        keep.add(path)
    # A re-import replaces the bank as a whole: drop section files the new text no longer has.
    for stale in sorted(bank_dir.glob("*.yaml")):
        if stale not in keep:
            stale.unlink()
    return written


def _plan_data(plan: DayPlan) -> dict[str, object]:
    return plan.model_dump(mode="json", exclude={"generated"})


def _bank_for_linking(bank: ParsedBank | None, out_dir: Path) -> list[Question] | None:
    if bank is not None:
        return bank.questions
    # A day plan imported on its own is linked against the bank already in the output
    # directory, else the shipped one; without any bank it is written unlinked (and linked
    # when the library loads it).
    for candidate in (out_dir, DEFAULT_DATA_DIR):
        content, _ = load_content(candidate)
        if content.questions:
            return list(content.questions.values())
    return None


def import_files(paths: Sequence[Path], out_dir: Path) -> ImportReport:
    """Parse each seed file by its content and write the YAML library under `out_dir`."""
    if not paths:
        raise ContentError("no files to import")
    texts: list[tuple[Path, str, SourceFormat]] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ContentError(f"{path}: cannot read the file ({exc})") from exc
        try:
            texts.append((path, text, detect_format(text)))
        except ContentError as exc:
            raise ContentError(f"{path}: {exc}") from exc

    report = ImportReport()
    bank: ParsedBank | None = None
    bank_source = ""
    guide: tuple[InterviewGuide, str] | None = None
    plans: dict[int, tuple[DayPlan, str]] = {}
    for path, text, source_format in texts:
        report.formats[path.name] = source_format
        try:
            if source_format == "bank":
                if bank is not None:
                    raise ContentError("two question banks in one import")
                bank, bank_source = parse_bank(text), path.name
            elif source_format == "guide":
                if guide is not None:
                    raise ContentError("two interview guides in one import")
                guide = (parse_guide(text), path.name)
            else:
                plan = parse_day_plan(text)
                if plan.day in plans:
                    raise ContentError(
                        f"day {plan.day} is also in {plans[plan.day][1]}: one plan per day"
                    )
                plans[plan.day] = (plan, path.name)
        except ContentError as exc:
            raise ContentError(f"{path}: {exc}") from exc

    if bank is not None:
        report.written.extend(_write_bank(bank, bank_source, out_dir))
        report.questions = len(bank.questions)
        report.rubric_points = sum(len(q.rubric) for q in bank.questions)
    if guide is not None:
        path = out_dir / GUIDE_FILE
        write_yaml(path, guide[0].model_dump(mode="json"), _header(guide[1]))
        report.written.append(path)
    if plans:
        bank_questions = _bank_for_linking(bank, out_dir)
        linker = QuestionLinker(bank_questions) if bank_questions else None
        (out_dir / PLANS_DIR).mkdir(parents=True, exist_ok=True)
        for day in sorted(plans):
            plan, source = plans[day]
            if linker is not None:
                plan = linker.link_plan(plan)
            path = plan_path(out_dir, day)
            write_yaml(path, _plan_data(plan), _header(source))
            report.written.append(path)
            report.day_questions += len(plan.questions)
            report.linked_day_questions += sum(1 for q in plan.questions if q.linked)
    return report
