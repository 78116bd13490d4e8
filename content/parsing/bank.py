"""Parse the scraped interview question bank (Appendix E) into sections and questions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from content.errors import ContentError
from content.schema import (
    BankInfo,
    Interlude,
    Question,
    QuestionKind,
    RubricSource,
    Section,
    StoryKind,
    bank_id,
)

SECTION_RE = re.compile(
    r"^E\.(?P<number>[0-9]+) (?P<title>.+?)"
    r"(?: \(Chapters? (?P<start>[0-9]+)[–-](?P<end>[0-9]+)\))?"
    r"(?: \[(?P<marker>[^\]]+)\])?$"
)
QUESTION_RE = re.compile(r"^(?P<number>[0-9]+)\. (?P<tags>(?:\[[A-Z]+\])+) (?P<rest>.+)$")
TAG_RE = re.compile(r"\[([A-Z]+)\]")
BULLET_RE = re.compile(r"^\s+• (?P<text>.+)$")
# The chapter reference closes the question text; the last one wins because a question may
# itself mention a chapter.
CHAPTER_RE = re.compile(r" Chapters? (?P<chapters>[0-9]+(?:, [0-9]+)*) · ")
RUBRIC_HEADERS: tuple[tuple[str, RubricSource], ...] = (
    (" What they want to hear:", "want_to_hear"),
    (" What they’re testing:", "testing_bullets"),
    (" What they're testing:", "testing_bullets"),
)
TESTING_SENTENCE_RE = re.compile(r" What they[’']re testing: (?P<sentence>.+)$")
SOLUTION_RE = re.compile(r" Solution sketch: (?P<sketch>.+)$")
NOTE_LABELS: tuple[tuple[str, StoryKind | None], ...] = (
    ("testing: ", None),
    ("canonical story: ", "canonical"),
)
DIFFICULTIES = {"W", "M", "H", "S"}
ROLES = {"MLE", "MLS", "AS", "RE", "INF"}


@dataclass
class ParsedBank:
    """The bank as parsed: its prose, its sections and every question in source order."""

    info: BankInfo
    sections: list[Section]
    questions: list[Question]


@dataclass
class _SectionDraft:
    number: int
    title: str
    chapter_start: int | None
    chapter_end: int | None
    marker: str | None
    intro: list[str] = field(default_factory=list)
    interludes: list[Interlude] = field(default_factory=list)
    last_question: str | None = None


@dataclass
class _QuestionDraft:
    line: int
    fields: dict[str, object]
    rubric_source: RubricSource | None
    rubric: list[str] = field(default_factory=list)


def looks_like_bank(text: str) -> bool:
    """Return whether `text` reads like the question bank (E.n sections of tagged questions)."""
    lines = text.splitlines()
    sections = sum(1 for line in lines if SECTION_RE.match(line))
    questions = sum(1 for line in lines if QUESTION_RE.match(line))
    return sections >= 1 and questions >= 5


def _kind_for(section_title: str, has_sketch: bool, story: StoryKind | None) -> QuestionKind:
    title = section_title.lower()
    if "behavioral" in title or "behavioural" in title or story is not None:
        return "behavioral"
    if has_sketch or "coding" in title:
        return "coding"
    return "concept"


def _split_note(note: str) -> tuple[str, list[str]]:
    # "what it tests · Company, Company": organisations carry a capital letter, so a trailing
    # segment without one (e.g. "applied researcher depth") still belongs to the note.
    parts = note.split(" · ")
    if len(parts) > 1 and re.search(r"[A-Z]", parts[-1]):
        return " · ".join(parts[:-1]), [c.strip() for c in parts[-1].split(", ") if c.strip()]
    return note, []


def _parse_question_line(line: str, lineno: int, section: _SectionDraft) -> _QuestionDraft:
    match = QUESTION_RE.match(line)
    if match is None:  # pragma: no cover - callers only pass matching lines
        raise ContentError(f"line {lineno}: not a question line")
    tags = TAG_RE.findall(match["tags"])
    difficulty = [t for t in tags if t in DIFFICULTIES]
    roles = [t for t in tags if t in ROLES]
    unknown = [t for t in tags if t not in DIFFICULTIES and t not in ROLES]
    if len(difficulty) != 1 or not roles or unknown:
        raise ContentError(f"line {lineno}: cannot read the tags {match['tags']!r}")
    rest = match["rest"]

    rubric_source: RubricSource | None = None
    rubric: list[str] = []
    sketch: str | None = None
    for header, source in RUBRIC_HEADERS:
        if rest.endswith(header):
            rest = rest[: -len(header)]
            rubric_source = source
            break
    else:
        sentence = TESTING_SENTENCE_RE.search(rest)
        if sentence is not None:
            rubric_source = "testing_sentence"
            rubric = [sentence["sentence"].strip()]
            rest = rest[: sentence.start()]
        else:
            solution = SOLUTION_RE.search(rest)
            if solution is not None:
                sketch = solution["sketch"].strip()
                rest = rest[: solution.start()]

    chapters: list[int] = []
    tests: str | None = None
    companies: list[str] = []
    story: StoryKind | None = None
    chapter_matches = list(CHAPTER_RE.finditer(rest))
    if chapter_matches:
        last = chapter_matches[-1]
        chapters = [int(c) for c in last["chapters"].split(", ")]
        note = rest[last.end() :]
        rest = rest[: last.start()]
        for label, label_story in NOTE_LABELS:
            if note.startswith(label):
                note = note[len(label) :]
                story = label_story
                break
        else:
            raise ContentError(f"line {lineno}: no 'testing:' note after the chapter reference")
        tests, companies = _split_note(note.strip())
    elif rubric_source == "testing_sentence":
        story = "probing"

    text = rest.strip()
    if not text:
        raise ContentError(f"line {lineno}: question {match['number']} has no text")
    number = int(match["number"])
    fields: dict[str, object] = {
        "id": bank_id(section.number, number),
        "section": section.number,
        "number": number,
        "difficulty": difficulty[0],
        "roles": roles,
        "text": text,
        "chapters": chapters,
        "tests": tests,
        "story": story,
        "companies": companies,
        "kind": _kind_for(section.title, sketch is not None, story),
        "solution_sketch": sketch,
    }
    return _QuestionDraft(line=lineno, fields=fields, rubric_source=rubric_source, rubric=rubric)


def _finish_question(draft: _QuestionDraft) -> Question:
    if draft.rubric_source in ("want_to_hear", "testing_bullets") and not draft.rubric:
        raise ContentError(
            f"line {draft.line}: question {draft.fields['id']} announces a rubric but no "
            "bullet follows"
        )
    return Question.model_validate(
        {**draft.fields, "rubric_source": draft.rubric_source, "rubric": draft.rubric}
    )


def parse_bank(text: str) -> ParsedBank:
    """Parse the question bank text; raise ContentError naming the line of anything unread."""
    preamble: list[str] = []
    sections: list[_SectionDraft] = []
    questions: list[Question] = []
    current: _QuestionDraft | None = None
    prose: list[str] = []

    def close_question() -> None:
        nonlocal current
        if current is not None:
            question = _finish_question(current)
            questions.append(question)
            sections[-1].last_question = question.id
            current = None

    def place_prose() -> None:
        # Prose before a section's first question introduces the section; prose after a
        # question (e.g. the "Probing variants" paragraph) stays where it was, after it.
        if not prose:
            return
        section = sections[-1]
        if section.last_question is None:
            section.intro.extend(prose)
        else:
            section.interludes.append(
                Interlude(after=section.last_question, text="\n\n".join(prose))
            )
        prose.clear()

    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        bullet = BULLET_RE.match(raw)
        section_match = SECTION_RE.match(line)
        if section_match is not None:
            close_question()
            if sections:
                place_prose()
            start, end = section_match["start"], section_match["end"]
            sections.append(
                _SectionDraft(
                    number=int(section_match["number"]),
                    title=section_match["title"].strip(),
                    chapter_start=int(start) if start else None,
                    chapter_end=int(end) if end else None,
                    marker=section_match["marker"],
                )
            )
        elif not sections:
            preamble.append(f"• {bullet['text'].strip()}" if bullet else line)
        elif QUESTION_RE.match(line):
            close_question()
            place_prose()
            current = _parse_question_line(line, lineno, sections[-1])
        elif bullet is not None:
            if current is None or current.rubric_source not in ("want_to_hear", "testing_bullets"):
                raise ContentError(f"line {lineno}: a bullet point outside any question's rubric")
            current.rubric.append(bullet["text"].strip())
        else:
            close_question()
            prose.append(line)

    if not sections:
        raise ContentError("no bank section heading (like 'E.1 ML foundations') was found")
    close_question()
    # Prose after the very last question closes the whole bank ("Total: ... Good luck.").
    closing = list(prose) if sections[-1].last_question is not None else []
    if not closing:
        place_prose()
    numbers = [s.number for s in sections]
    if len(set(numbers)) != len(numbers):
        raise ContentError("a bank section number appears twice")
    built = [
        Section(
            number=s.number,
            title=s.title,
            chapter_start=s.chapter_start,
            chapter_end=s.chapter_end,
            marker=s.marker,
            intro=s.intro,
            interludes=s.interludes,
        )
        for s in sections
    ]
    return ParsedBank(
        info=BankInfo(preamble=preamble, closing=closing), sections=built, questions=questions
    )
