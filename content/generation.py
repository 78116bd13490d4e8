"""Generate the days nobody wrote from the question bank, deterministically.

The free days (1..days_total without the authored ones) walk through the bank once:

- Concept sections E.1..E.11 take consecutive runs of free days, each run as long as the
  section's share of the concept questions. Inside a run, the section's questions are split
  into difficulty streams (warm-up, medium, hard and stretch), each in chapter order, and every
  day takes the next slice of each stream: chapters advance day by day and each day mixes
  difficulties in the section's own proportion.
- Coding questions (E.12), in chapter order, are spread evenly over the free days.
- Behavioral questions (E.13) go one or two to every calendar week (days 1-7, 8-14, ...), on
  evenly spaced free days of that week.

Every bank question lands on exactly one generated day, so together they cover the bank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from content.schema import DayItem, DayPlan, DayQuestion, Question, Section, Track

DAYS_PER_WEEK = 7
_DIFFICULTY_STREAMS: tuple[tuple[str, ...], ...] = (("W",), ("M",), ("H", "S"))
_DIFFICULTY_ORDER = {"W": 0, "M": 1, "H": 2, "S": 3}


@dataclass(frozen=True)
class Schedule:
    """Which bank questions each generated day asks, in the order they are posted."""

    days: dict[int, tuple[str, ...]]

    def covered(self) -> set[str]:
        """Return every bank id that some generated day asks."""
        return {qid for ids in self.days.values() for qid in ids}


def _chapter_key(question: Question) -> tuple[int, int, int]:
    chapter = question.chapter if question.chapter is not None else 10_000
    return (chapter, question.section, question.number)


def _shares(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` into integer parts proportional to `weights` (largest remainder)."""
    weight_sum = sum(weights)
    if weight_sum == 0 or total == 0:
        return [0 for _ in weights]
    exact = [total * w / weight_sum for w in weights]
    parts = [int(x) for x in exact]
    # Every non-empty group gets at least one part when there are enough parts to go round.
    if total >= sum(1 for w in weights if w):
        for i, w in enumerate(weights):
            if w and parts[i] == 0:
                parts[i] = 1
    while sum(parts) > total:
        i = max(range(len(parts)), key=lambda j: (parts[j] - exact[j], j))
        parts[i] -= 1
    order = sorted(range(len(parts)), key=lambda j: (-(exact[j] - parts[j]), j))
    k = 0
    while sum(parts) < total:
        parts[order[k % len(order)]] += 1
        k += 1
    return parts


def _interleave_difficulties(questions: Sequence[Question]) -> list[str]:
    """Order a section so that each difficulty stream advances through the chapters evenly.

    Each stream (warm-up, medium, hard and stretch) is sorted by chapter; a question's place is
    its progress through its own stream, so any run of the result mixes the difficulties in
    the section's proportion while the chapters move forward.
    """
    keyed: list[tuple[float, int, str]] = []
    for rank, levels in enumerate(_DIFFICULTY_STREAMS):
        stream = sorted((q for q in questions if q.difficulty in levels), key=_chapter_key)
        for position, question in enumerate(stream):
            keyed.append(((position + 0.5) / len(stream), rank, question.id))
    return [qid for _, _, qid in sorted(keyed)]


def _slice(items: Sequence[str], index: int, count: int) -> list[str]:
    start = index * len(items) // count
    end = (index + 1) * len(items) // count
    return list(items[start:end])


def _spread(items: Sequence[str], days: Sequence[int]) -> dict[int, list[str]]:
    placed: dict[int, list[str]] = {}
    if not days:
        return placed
    for k, item in enumerate(items):
        position = ((2 * k + 1) * len(days)) // (2 * len(items))
        placed.setdefault(days[position], []).append(item)
    return placed


def build_schedule(
    questions: Iterable[Question], days_total: int, authored_days: Iterable[int]
) -> Schedule:
    """Assign every bank question to one of the days that are not authored."""
    authored = set(authored_days)
    free_days = [d for d in range(1, days_total + 1) if d not in authored]
    by_kind: dict[str, list[Question]] = {"concept": [], "coding": [], "behavioral": []}
    for question in questions:
        by_kind[question.kind].append(question)
    plan: dict[int, list[str]] = {day: [] for day in free_days}
    if not free_days:
        return Schedule(days={})

    concept_sections: dict[int, list[Question]] = {}
    for question in sorted(by_kind["concept"], key=lambda q: (q.section, q.number)):
        concept_sections.setdefault(question.section, []).append(question)
    section_numbers = sorted(concept_sections)
    runs = _shares(len(free_days), [len(concept_sections[s]) for s in section_numbers])
    cursor = 0
    for section_number, run in zip(section_numbers, runs, strict=True):
        days = free_days[cursor : cursor + run]
        cursor += run
        if not days:
            # More sections than free days: the section shares the last free day.
            days = free_days[-1:]
        ordered = _interleave_difficulties(concept_sections[section_number])
        for index, day in enumerate(days):
            plan[day].extend(_slice(ordered, index, len(days)))

    coding = [q.id for q in sorted(by_kind["coding"], key=_chapter_key)]
    for day, ids in _spread(coding, free_days).items():
        plan[day].extend(ids)

    behavioral = [q.id for q in sorted(by_kind["behavioral"], key=lambda q: (q.section, q.number))]
    weeks: list[list[int]] = []
    for week_start in range(1, days_total + 1, DAYS_PER_WEEK):
        week = [d for d in free_days if week_start <= d < week_start + DAYS_PER_WEEK]
        if week:
            weeks.append(week)
    # Spread the stories over the weeks first (every week gets one while there are at least as
    # many stories as weeks), then over the free days inside each week.
    for week_index, week_ids in sorted(_spread(behavioral, list(range(len(weeks)))).items()):
        for day, ids in _spread(week_ids, weeks[week_index]).items():
            plan[day].extend(ids)

    return Schedule(days={day: tuple(ids) for day, ids in plan.items()})


def _chapters_label(questions: Sequence[Question]) -> str | None:
    chapters = sorted({c for q in questions for c in q.chapters[:1]})
    if not chapters:
        return None
    if chapters[0] == chapters[-1]:
        return f"Chapter {chapters[0]}"
    return f"Chapters {chapters[0]}–{chapters[-1]}"


def generated_day_plan(
    day: int,
    days_total: int,
    ids: Sequence[str],
    questions: dict[str, Question],
    sections: dict[int, Section],
) -> DayPlan:
    """Build the plan of a generated day from the bank questions scheduled on it."""
    asked = [questions[qid] for qid in ids]
    groups: dict[int, list[Question]] = {}
    for question in asked:
        groups.setdefault(question.section, []).append(question)
    tracks: list[Track] = []
    for section_number in sorted(groups):
        section = sections[section_number]
        group = groups[section_number]
        if group[0].kind == "concept":
            group = sorted(group, key=lambda q: (_DIFFICULTY_ORDER[q.difficulty], _chapter_key(q)))
        items = [
            DayItem(
                kind="bank",
                questions=[
                    DayQuestion(
                        id=q.id,
                        number=k,
                        text=q.text,
                        bank_id=q.id,
                        match_confidence=1.0,
                        match_method="bank",
                    )
                    for k, q in enumerate(group, start=1)
                ],
            )
        ]
        tracks.append(
            Track(
                name=f"{section.code} {section.title}",
                category=section.code,
                topic=section.title,
                items=items,
            )
        )
    concept = [q for q in asked if q.kind == "concept"]
    lead_section = (concept or asked)[0].section if asked else None
    lead = sections[lead_section] if lead_section is not None else None
    title = lead.title if lead else "Review day"
    chapters = _chapters_label(concept)
    if chapters:
        title = f"{title} · {chapters}"
    theme = "From the question bank"
    if concept and lead:
        plural = "s" if len(concept) != 1 else ""
        theme += f": {len(concept)} question{plural} from {lead.code} {lead.title}"
    extras = []
    if any(q.kind == "coding" for q in asked):
        extras.append("a coding question")
    if any(q.kind == "behavioral" for q in asked):
        extras.append("a behavioral story")
    if extras:
        theme += ", plus " + " and ".join(extras)
    return DayPlan(
        day=day,
        total_days=days_total,
        title=title,
        theme=f"{theme}.",
        origin="generated",
        tracks=tracks,
    )
