"""Parse a scraped day plan ("Day 121 of 133") into tracks, items and numbered questions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from content.errors import ContentError
from content.schema import DayItem, DayPlan, DayQuestion, ItemKind, Track, day_question_id

DAY_HEADER_RE = re.compile(r"^Day (?P<day>[0-9]+) of (?P<total>[0-9]+)$")
BULLET_RE = re.compile(r"^\s*• (?P<text>.*)$")
NUMBERED_RE = re.compile(r"^\s+(?P<number>[0-9]+)\. (?P<text>.+)$")
PROMPTS_LABEL = "Interview questions to prep"
REFERENCES_RE = re.compile(r"^references\b", re.IGNORECASE)
# Categories that tag items; the plan's own track headings add to these, so a new category
# in a future plan is still recognised when a track of that name appears in it.
KNOWN_CATEGORIES = (
    "ML System Design",
    "ML Foundations",
    "LLMOps",
    "MLOps",
    "Infra",
    "DSA",
    "Behavioral",
    "Coding",
)


@dataclass
class _ItemDraft:
    kind: ItemKind
    title: str | None
    tag: str | None
    source: str | None
    questions: list[tuple[int, str]] = field(default_factory=list)


@dataclass
class _TrackDraft:
    name: str
    items: list[_ItemDraft] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def looks_like_day_plan(text: str) -> bool:
    """Return whether `text` starts like a day plan ("Day N of M")."""
    for line in text.splitlines():
        if line.strip():
            return DAY_HEADER_RE.match(line.strip()) is not None
    return False


def drill_slug(title: str) -> str:
    """Return the code-drill id a DSA problem title maps to, e.g. "Word Search" -> word_search."""
    return re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")


def split_item_heading(
    text: str, categories: list[str]
) -> tuple[str | None, str | None, str | None]:
    """Split a scraped item line into (title, tag, source).

    The page scrape runs the title, the category tag and the source together with no space:
    "Word SearchDSA · Backtracking" or "Multi-model routing & cascadesML System DesignAnyscale".
    A category counts as the tag only where it starts the line or is glued to the title.
    """
    best: tuple[int, str] | None = None
    for category in sorted(categories, key=len, reverse=True):
        start = 0
        while (index := text.find(category, start)) != -1:
            glued = index == 0 or not text[index - 1].isspace()
            if glued and (best is None or index > best[0]):
                best = (index, category)
            start = index + 1
    if best is None:
        return text.strip() or None, None, None
    index, category = best
    title = text[:index].strip() or None
    rest = text[index + len(category) :]
    tag = category
    source: str | None = None
    if rest.startswith(" · "):
        subtag, source = _split_glued(rest[3:])
        tag = f"{category} · {subtag}"
    elif rest.strip():
        source = rest.strip()
    return title, tag, source


def _split_glued(text: str) -> tuple[str, str | None]:
    # "BacktrackingNeetCode": a lower-case letter followed directly by a capital marks where
    # the scrape glued the next field on.
    match = re.search(r"(?<=[a-z])(?=[A-Z])", text)
    if match is None:
        return text.strip(), None
    return text[: match.start()].strip(), text[match.start() :].strip() or None


def _category_of(track_name: str) -> tuple[str | None, str | None]:
    if " · " in track_name:
        category, topic = track_name.split(" · ", 1)
        return category.strip(), topic.strip()
    return None, None


def parse_day_plan(text: str) -> DayPlan:
    """Parse one day plan; raise ContentError naming the line of anything it cannot place."""
    lines = text.splitlines()
    header_index = next((i for i, line in enumerate(lines) if line.strip()), None)
    if header_index is None:
        raise ContentError("the day plan is empty")
    header = DAY_HEADER_RE.match(lines[header_index].strip())
    if header is None:
        raise ContentError(f"line {header_index + 1}: expected 'Day N of M'")
    day, total = int(header["day"]), int(header["total"])

    # Unindented lines before the first bullet: the title, the theme, then the first track
    # heading (the one right before the first bullet).
    body = [
        (i + 1, line) for i, line in enumerate(lines[header_index + 1 :], start=header_index + 1)
    ]
    first_bullet = next((n for n, line in body if BULLET_RE.match(line)), None)
    cutoff = first_bullet if first_bullet is not None else len(lines) + 1
    heads = [
        n
        for n, line in body
        if line.strip()
        and not line[0].isspace()
        and n < cutoff
        and not REFERENCES_RE.match(line.strip())
    ]
    track_heads = set(heads[-1:]) if first_bullet is not None else set()
    intro = [lines[n - 1].strip() for n in heads if n not in track_heads]
    if not intro:
        raise ContentError(f"day {day}: no title after the 'Day {day} of {total}' line")
    title = intro[0]
    theme = " ".join(intro[1:]) or None

    track_names = [line.strip() for _, line in body if line.strip() and not line[0].isspace()]
    categories = list(KNOWN_CATEGORIES)
    for name in track_names:
        category, _ = _category_of(name)
        if category and category not in categories:
            categories.append(category)

    tracks: list[_TrackDraft] = []
    references: list[str] = []
    in_references = False
    current_item: _ItemDraft | None = None
    for lineno, line in body:
        stripped = line.strip()
        if not stripped or (lineno < cutoff and lineno in heads and lineno not in track_heads):
            continue
        if not line[0].isspace():
            current_item = None
            if REFERENCES_RE.match(stripped):
                in_references = True
                continue
            in_references = False
            tracks.append(_TrackDraft(name=stripped))
            continue
        if in_references:
            bullet = BULLET_RE.match(line)
            references.append(bullet["text"].strip() if bullet else stripped)
            continue
        if not tracks:
            raise ContentError(f"line {lineno}: an item before any track heading")
        bullet = BULLET_RE.match(line)
        if bullet is not None:
            heading = bullet["text"].strip()
            if heading == PROMPTS_LABEL:
                current_item = _ItemDraft(kind="prompts", title=None, tag=None, source=None)
            else:
                item_title, tag, source = split_item_heading(heading, categories)
                kind: ItemKind = "dsa" if tag and tag.startswith("DSA") else "topic"
                current_item = _ItemDraft(kind=kind, title=item_title, tag=tag, source=source)
            tracks[-1].items.append(current_item)
            continue
        if stripped == PROMPTS_LABEL:
            if current_item is None:
                raise ContentError(f"line {lineno}: '{PROMPTS_LABEL}' outside any item")
            continue
        numbered = NUMBERED_RE.match(line)
        if numbered is not None:
            if current_item is None:
                raise ContentError(f"line {lineno}: a numbered question outside any item")
            current_item.questions.append((int(numbered["number"]), numbered["text"].strip()))
            continue
        raise ContentError(f"line {lineno}: cannot place {stripped!r} in day {day}")

    k = 0
    built_tracks: list[Track] = []
    for track in tracks:
        items: list[DayItem] = []
        for item in track.items:
            questions: list[DayQuestion] = []
            for number, question_text in item.questions:
                k += 1
                questions.append(
                    DayQuestion(id=day_question_id(day, k), number=number, text=question_text)
                )
            items.append(
                DayItem(
                    kind=item.kind,
                    title=item.title,
                    tag=item.tag,
                    source=item.source,
                    drill=drill_slug(item.title) if item.kind == "dsa" and item.title else None,
                    questions=questions,
                )
            )
        category, topic = _category_of(track.name)
        built_tracks.append(Track(name=track.name, category=category, topic=topic, items=items))
    return DayPlan(
        day=day,
        total_days=total,
        title=title,
        theme=theme,
        origin="authored",
        tracks=built_tracks,
        references=references,
    )
