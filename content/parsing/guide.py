"""Map the Markdown interview guide onto the InterviewGuide schema."""

from __future__ import annotations

import re

from content.errors import ContentError
from content.parsing.markdown import Block, Heading, parse_markdown
from content.schema import (
    ClarifyingQuestion,
    CommonMistake,
    DeepDiveOption,
    FailureScenario,
    InterviewGuide,
    KeyNumber,
    KeyPoint,
    Phase,
    RubricAspect,
    ScaleTopic,
    TradeOff,
    TradeOffDeepDive,
    TrapQuestion,
)

MINUTES_RE = re.compile(r"(?P<start>[0-9]+)\s*[-–]\s*(?P<end>[0-9]+)\s*min")
PHASE_HEADING_RE = re.compile(r"^Phase (?P<number>[0-9]+): (?P<title>.+?)(?: \([^)]*\))?$")
OPTION_HEADING_RE = re.compile(r"^Option (?P<letter>[A-Z]): (?P<title>.+?)(?: Deep Dive)?$")
TRAP_HEADING_RE = re.compile(r"^Trap (?P<number>[0-9]+): (?P<question>.+)$")
KEY_POINT_RE = re.compile(r"^\*\*(?P<name>[^*]+)\*\*:\s*(?P<detail>.+)$")
CHECKBOX_RE = re.compile(r"^\[[ xX]\]\s*")


def looks_like_guide(text: str) -> bool:
    """Return whether `text` reads like the Markdown interview guide (phases in a timed table)."""
    return bool(re.search(r"^#{1,3} ", text, re.MULTILINE)) and bool(
        re.search(r"^\|\s*Phase\s*\|\s*Time\s*\|", text, re.MULTILINE)
    )


def plain(text: str) -> str:
    """Return cell or heading text without bold markers and surrounding straight quotes."""
    text = text.replace("**", "").strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text


def unquote(text: str) -> str:
    """Return text without surrounding straight quotes; Markdown emphasis inside is kept."""
    text = text.strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return text


def _table(root: Heading, *header: str) -> list[list[str]]:
    wanted = [h.lower() for h in header]
    for block in root.all_blocks():
        if block.kind == "table" and block.rows:
            if [plain(cell).lower() for cell in block.rows[0]] == wanted:
                rows = block.rows[1:]
                for row in rows:
                    if len(row) != len(wanted):
                        raise ContentError(
                            f"guide line {block.line}: a row of the {header[0]!r} table has "
                            f"{len(row)} cells, expected {len(wanted)}"
                        )
                return [[plain(cell) for cell in row] for row in rows]
    raise ContentError(f"guide: no table with columns {' | '.join(header)}")


def _heading(root: Heading, pattern: str) -> Heading:
    found = root.find(pattern)
    if found is None:
        raise ContentError(f"guide: no heading matching {pattern!r}")
    return found


def _first(blocks: list[Block], kind: str, where: str) -> Block:
    for block in blocks:
        if block.kind == kind:
            return block
    raise ContentError(f"guide: no {kind} under {where!r}")


def _labelled(heading: Heading, label: str, kind: str) -> Block:
    groups = heading.labelled()
    for key, blocks in groups.items():
        if key.lower().startswith(label.lower()):
            return _first(blocks, kind, f"{heading.title} / {key}")
    raise ContentError(f"guide: no '{label}' under {heading.title!r}")


def _phases(root: Heading) -> list[Phase]:
    rows = _table(root, "Phase", "Time", "Focus", "Key Deliverables")
    titles: dict[int, str] = {}
    for heading in root.walk():
        match = PHASE_HEADING_RE.match(heading.title)
        if match is not None:
            titles[int(match["number"])] = match["title"].strip()
    phases: list[Phase] = []
    for number, (name, time, focus, deliverables) in enumerate(rows, start=1):
        minutes = MINUTES_RE.search(time)
        if minutes is None:
            raise ContentError(f"guide: cannot read the minutes {time!r} of phase {name!r}")
        phases.append(
            Phase(
                number=number,
                name=name,
                title=titles.get(number, name),
                start_minute=int(minutes["start"]),
                end_minute=int(minutes["end"]),
                focus=focus,
                deliverables=[d.strip() for d in deliverables.split(", ") if d.strip()],
            )
        )
    return phases


def _failure_scenarios(text: str) -> list[FailureScenario]:
    drafts: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.lower().startswith("scenario:"):
            drafts.append((stripped.split(":", 1)[1].strip(), []))
            continue
        if not drafts:
            raise ContentError(f"guide: failure step {stripped!r} before any 'Scenario:' line")
        drafts[-1][1].append(re.sub(r"^[0-9]+\.\s*", "", stripped))
    return [FailureScenario(name=name, steps=steps) for name, steps in drafts]


def _deep_dive(option: Heading) -> DeepDiveOption:
    match = OPTION_HEADING_RE.match(option.title)
    if match is None:  # pragma: no cover - only called on matching headings
        raise ContentError(f"guide: cannot read the option heading {option.title!r}")
    groups = option.labelled()
    whiteboard = next(
        (b.text for k, bs in groups.items() if k.lower() == "whiteboard" for b in bs), None
    )
    follow_up = next(
        (b.items for k, bs in groups.items() if k.lower().startswith("follow") for b in bs), []
    )
    return DeepDiveOption(
        letter=match["letter"],
        title=match["title"].strip(),
        key_points=list(_labelled(option, "Key Points", "list").items),
        whiteboard=whiteboard,
        follow_up_points=list(follow_up),
    )


def _trap(heading: Heading) -> TrapQuestion:
    match = TRAP_HEADING_RE.match(heading.title)
    if match is None:  # pragma: no cover - only called on matching headings
        raise ContentError(f"guide: cannot read the trap heading {heading.title!r}")
    bad = next(
        (b for b in heading.blocks if b.kind == "paragraph" and b.text.startswith("**Bad")), None
    )
    if bad is None:
        raise ContentError(f"guide line {heading.line}: trap {match['number']} has no bad answer")
    bad_text = re.sub(r"^\*\*Bad Answer:?\*\*:?\s*", "", bad.text)
    good = _labelled(heading, "Good Answer", "quote")
    return TrapQuestion(
        number=int(match["number"]),
        question=plain(match["question"]),
        bad_answer=plain(bad_text),
        good_answer=unquote(good.text),
    )


def _checklist(heading: Heading) -> list[str]:
    block = _first(heading.blocks, "list", heading.title)
    return [CHECKBOX_RE.sub("", item).strip() for item in block.items]


def parse_guide(text: str) -> InterviewGuide:
    """Parse the interview guide Markdown; raise ContentError naming any part that is missing."""
    root = parse_markdown(text)
    title_heading = next((h for h in root.children if h.level == 1), None)
    title = title_heading.title if title_heading else "Interview Guide"
    phases = _phases(root)
    pacing = root.find(r"[0-9]+-Minute")
    duration_match = re.search(r"([0-9]+)-Minute", pacing.title) if pacing else None
    duration = int(duration_match.group(1)) if duration_match else phases[-1].end_minute

    phase1 = _heading(root, r"^Phase 1\b")
    phase2 = _heading(root, r"^Phase 2\b")
    phase3 = _heading(root, r"^Phase 3\b")
    phase4 = _heading(root, r"^Phase 4\b")
    phase5 = _heading(root, r"^Phase 5\b")

    key_points: list[KeyPoint] = []
    for item in _labelled(phase2, "Key Points", "list").items:
        match = KEY_POINT_RE.match(item)
        if match is None:
            raise ContentError(f"guide: cannot read the key point {item!r}")
        key_points.append(KeyPoint(name=match["name"].strip(), detail=match["detail"].strip()))

    intro_label = next((b.label for b in phase3.blocks if b.label), None)
    options = [_deep_dive(h) for h in phase3.walk() if OPTION_HEADING_RE.match(h.title)]
    if not options:
        raise ContentError("guide: phase 3 lists no deep-dive options")

    dives = [
        TradeOffDeepDive(
            title=h.title.split(":", 1)[1].strip(),
            text=_first(h.blocks, "code", h.title).text,
        )
        for h in root.find_all(r"^Trade-off Deep Dive:")
    ]
    traps = [_trap(h) for h in root.walk() if TRAP_HEADING_RE.match(h.title)]
    asking = _heading(root, r"^Questions to Ask the Interviewer$")

    return InterviewGuide(
        title=title,
        duration_minutes=duration,
        phases=phases,
        clarifying_questions=[
            ClarifyingQuestion(question=q, why=w, expected_answers=e)
            for q, w, e in _table(root, "Question", "Why It Matters", "Expected Answers")
        ],
        sample_dialogue=unquote(_labelled(phase1, "Sample", "quote").text),
        architecture_diagram=_labelled(phase2, "What to Draw", "code").text,
        design_key_points=key_points,
        deep_dive_intro=intro_label or "",
        deep_dive_options=options,
        scale_topics=[
            ScaleTopic(topic=t, key_points=k, numbers=n)
            for t, k, n in _table(root, "Topic", "Key Points", "Numbers to Mention")
        ],
        failure_scenarios=_failure_scenarios(_labelled(phase4, "Failure Scenarios", "code").text),
        wrap_up_template=unquote(_labelled(phase5, "Summary Template", "quote").text),
        trade_offs=[
            TradeOff(name=n, option_a=a, option_b=b, recommendation=r)
            for n, a, b, r in _table(root, "Trade-off", "Option A", "Option B", "Recommendation")
        ],
        trade_off_deep_dives=dives,
        trap_questions=traps,
        common_mistakes=[
            CommonMistake(mistake=m, why_wrong=w, better_approach=b)
            for m, w, b in _table(root, "Mistake", "Why It's Wrong", "Better Approach")
        ],
        questions_for_interviewer=[
            plain(item) for item in _first(asking.blocks, "list", asking.title).items
        ],
        key_numbers=[
            KeyNumber(metric=m, value=v, context=c)
            for m, v, c in _table(root, "Metric", "Value", "Context")
        ],
        components_checklist=_checklist(_heading(root, r"Components Checklist")),
        decisions_checklist=_checklist(_heading(root, r"Decisions Checklist")),
        scoring_rubric=[
            RubricAspect(aspect=a, good=g, great=gr)
            for a, g, gr in _table(root, "Aspect", "Good (Hire)", "Great (Strong Hire)")
        ],
        red_flags=list(_first(_heading(root, r"^Red Flags$").blocks, "list", "Red Flags").items),
        green_flags=list(
            _first(_heading(root, r"^Green Flags$").blocks, "list", "Green Flags").items
        ),
    )
