"""Checking an LLM's quoted evidence: verbatim, whole sentences, and what the point claims.

A quote counts only when it is one contiguous passage of the answer (whitespace, case and quote
marks aside; an elision "..." is not a passage of the answer). It is then widened to the whole
sentences it touches, so a negation or a hedge in the sentence travels with it: that sentence is
what is checked and what the member is shown. Similar is not enough: the sentence must not
contradict the point (a negation in scope, a reversed direction, a different number for the same
unit), must not be hedged or a bare list of terms, and must state the figures the point asserts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graders.claims import quantities
from graders.models import Verdict
from graders.text import KeyTerm, key_terms, map_text

_EDGE = " \t\n\"'.,;:!?()[]"


def locate_verbatim(answer: str, quote: str, *, min_chars: int = 8) -> tuple[int, int] | None:
    """Return the span of the answer the quote copies as one contiguous passage, else None."""
    needle = map_text(quote, casefold=True).text.strip(_EDGE)
    if len(needle) < min_chars:
        return None
    haystack = map_text(answer, casefold=True)
    found = haystack.text.find(needle)
    if found < 0:
        return None
    return haystack.source_span(found, found + len(needle))


# A sentence ends at . ! ? or … followed by whitespace, or at a line break.
_SENTENCE_END = re.compile(r"(?<=[.!?…。！？])[\"')\]]*\s+|\n+")


def sentence_spans(answer: str) -> list[tuple[int, int]]:
    """Return the spans of the answer's sentences (and lines), without surrounding space."""
    spans: list[tuple[int, int]] = []
    cursor = 0
    for match in _SENTENCE_END.finditer(answer):
        spans.append((cursor, match.start() + len(match.group(0).rstrip())))
        cursor = match.end()
    spans.append((cursor, len(answer)))
    out = []
    for start, end in spans:
        text = answer[start:end]
        stripped = text.strip()
        if not any(ch.isalnum() for ch in stripped):
            continue
        lead = len(text) - len(text.lstrip())
        out.append((start + lead, start + lead + len(stripped)))
    return out


def whole_sentences(answer: str, span: tuple[int, int]) -> list[tuple[int, int]]:
    """Return the sentences of the answer that a quoted span touches, in order."""
    start, end = span
    touched = [(a, b) for a, b in sentence_spans(answer) if a < end and b > start]
    return touched or [span]


@dataclass(frozen=True)
class Support:
    """How far a passage can support a rubric point: the highest verdict it allows, and why."""

    cap: Verdict
    reason: str = ""
    # True when the passage names terms without stating how they relate (a keyword list):
    # it earns at most what the offline substance check gives.
    keyword_list: bool = False


_NEGATION = re.compile(
    r"\b(?:not|no|never|none|neither|nor|cannot|can't|won't|don't|doesn't|isn't|aren't|"
    r"didn't|wasn't|weren't|hasn't|haven't|shouldn't|wouldn't|nothing)\b",
    re.IGNORECASE,
)
_NOT_A_NEGATION = re.compile(r"\b(?:not only|not just|no longer needs?|no matter)\b", re.I)
# Sentence-level refutation or ignorance: the sentence reports a claim in order to deny it.
_REFUTED = re.compile(
    r"\b(?:that(?:'s| is)|this is|which is|it(?:'s| is)|is)\s+(?:just\s+)?"
    r"(?:wrong|false|incorrect|a myth|a misconception|not true|nonsense)\b"
    r"|\bcontrary to\b|\bi (?:don't|do not) (?:know|remember|recall)\b|\bno idea\b"
    r"|\b(?:people|some|many) (?:say|claim|think|believe)\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:i think|i guess|i believe|maybe|perhaps|probably|not sure|something to do with|"
    r"sort of|kind of like|i'm not certain|if i remember)\b",
    re.IGNORECASE,
)
_OPPOSITES = (
    ("more", "less"),
    ("more", "fewer"),
    ("increase", "decrease"),
    ("increase", "reduce"),
    ("increases", "decreases"),
    ("increases", "reduces"),
    ("higher", "lower"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("faster", "slower"),
    ("before", "after"),
    ("above", "below"),
    ("grows", "shrinks"),
    ("maximize", "minimize"),
    ("overestimate", "underestimate"),
    ("wider", "narrower"),
    ("longer", "shorter"),
)
_WORD = re.compile(r"[a-z][a-z'-]+")
_STOP = frozenset(
    "the a an and or of to in on at by for with from as is are was were be it its this that "
    "than then so into over per each which what when while also very just only can does do".split()
)
_QUANTITY = re.compile(
    r"(?<![\w.])(\d+(?:[.,]\d+)?)\s?(%|×|x\b|[kmgt]i?b\b|[kmbt]\b|bytes?\b|bits?\b|ms\b|s\b|"
    r"tokens?\b|gpus?\b|layers?\b|heads?\b)",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^\s*(?:keywords?|key terms?|terms|buzzwords?|tags?)\s*:", re.I)


def _stems(text: str) -> set[str]:
    return {w[:5] for w in _WORD.findall(text.lower()) if len(w) >= 4 and w not in _STOP}


# A figure next to a multiplication sign is an operand of a worked product ("20 × 2 GPUs = 40
# GPUs"), not a value the point asserts: an answer may state the product instead.
_OPERAND = re.compile(r"[×*]\s*$|^\s*[×*]")


def _quantities(text: str, *, operands: bool = True) -> set[tuple[str, str]]:
    out = set()
    for match in _QUANTITY.finditer(text):
        value, unit = match.groups()
        if not operands and (
            _OPERAND.search(text[max(0, match.start() - 3) : match.start()])
            or _OPERAND.search(text[match.end() : match.end() + 3])
        ):
            continue
        number = value.replace(",", ".")
        if "." in number:
            number = number.rstrip("0").rstrip(".")
        out.add((number, unit.lower().rstrip("s") if unit.lower() != "s" else "s"))
    return out


# What makes a short item a statement rather than a term: an operator between two operands
# ("x - max", "a → b"; a hyphen inside a word joins a compound: "KV-cache"), a word relating
# what it joins ("divide by sum", "move to the end") or a negation ("no overflow").
_RELATING = re.compile(
    r"\S\s+-\s+\S|\S\s*(?:[+*=<>→×]|->)\s*\S"
    r"|\b(?:by|to|into|from|over|than|before|after|instead|without|no|not|never)\b",
    re.IGNORECASE,
)


def is_keyword_list(passage: str) -> bool:
    """Tell whether a passage names terms without relating them ("Keywords: Adam, m, v, ...").

    A terse answer in list form ("x - max, exp, divide by sum, no overflow") is not one: when
    half or more of its short items relate terms, it states steps, however briefly.
    """
    if _LIST_MARKER.search(passage):
        return True
    items = [i.strip() for i in re.split(r"[,;/]", passage) if i.strip()]
    if len(items) < 5:
        return False
    words = sum(len(i.split()) for i in items) / len(items)
    relating = sum(_RELATING.search(i) is not None for i in items)
    return words <= 2.5 and relating * 2 < len(items)


_NEGATION_SCOPE_WORDS = 4


def negated_in_scope(point: str, passage: str) -> bool:
    """Tell whether the passage negates something the point asserts (a negation the point lacks)."""
    if _NEGATION.search(point):
        return False
    cleaned = _NOT_A_NEGATION.sub(" ", passage)
    point_stems = _stems(point)
    for match in _NEGATION.finditer(cleaned):
        # The scope of a negation is short: the next few words ("not added to the gradient").
        scope = " ".join(cleaned[match.end() :].split()[:_NEGATION_SCOPE_WORDS])
        if _stems(scope) & point_stems:
            return True
    return False


def reversed_direction(point: str, passage: str) -> bool:
    """Tell whether the passage states the opposite direction of one the point states."""
    point_words = set(_WORD.findall(point.lower()))
    passage_words = set(_WORD.findall(passage.lower()))
    if any(first in point_words and second in point_words for first, second in _OPPOSITES):
        return False
    sides = [{w for pair in _OPPOSITES for w in pair[k : k + 1]} for k in (0, 1)]
    if point_words & sides[0] and point_words & sides[1]:
        # A trade-off ("too high: ...; too low: less ...") names both directions itself.
        return False
    for first, second in _OPPOSITES:
        for said, opposite in ((first, second), (second, first)):
            if said in point_words and opposite in passage_words and said not in passage_words:
                return True
    return False


def different_number(point: str, passage: str) -> bool:
    """Tell whether the passage gives another value, in the same unit, for a figure of the point."""
    wanted = _quantities(point, operands=False)
    stated = _quantities(passage)
    if not wanted or not stated:
        return False
    for unit in {unit for _, unit in wanted}:
        said = {value for value, u in stated if u == unit}
        if said and not said & {value for value, u in wanted if u == unit}:
            return True
    return False


# Multiples and fractions said in words, which the claim checks' number words leave out or read
# as bare counts: "twice the peak" states 2×, "a tenth of a standard deviation" states 0.1.
_SPELLED_FIGURES = (
    (re.compile(r"\b(?:twice|doubl(?:e|es|ed|ing))\b", re.I), "2×"),
    (re.compile(r"\b(?:tripl(?:e|es|ed|ing))\b", re.I), "3×"),
    (re.compile(r"\b(?:a|one) tenth\b", re.I), "0.1"),
    (re.compile(r"\b(?:a|one) hundredth\b", re.I), "0.01"),
    (re.compile(r"\b(?:a|one) quarter\b", re.I), "0.25"),
    (re.compile(r"\ba percent\b", re.I), "1%"),
)


def _spell_figures(text: str) -> str:
    for pattern, figure in _SPELLED_FIGURES:
        text = pattern.sub(figure, text)
    return text


def figure_stated(term: KeyTerm, text: str) -> bool:
    """Tell whether the text states a figure of the point, as written or in another form.

    Other forms are the ones the claim checks read (a number in words: "ten percent"; another
    unit of the same family; a rounding within a tenth: "about 43 minutes" for 43.8 min) and
    multiples and fractions in words ("twice" for 2×, "a tenth" for 0.1).
    """
    if term.found_in(text):
        return True
    spelled = _spell_figures(text)
    if term.found_in(spelled):
        return True
    wanted = quantities(term.label)
    return any(q.matches(s) or s.matches(q) for q in wanted for s in quantities(spelled))


def check_support(point: str, passage: str, context: str = "") -> Support:
    """Return the highest verdict the passage can support for the rubric point, and why.

    `context` is the passage with its neighbouring sentences: a figure the point asserts may be
    stated in the next sentence ("... 8 bytes per parameter. For 7B that is 56 GB.").
    """
    if _REFUTED.search(passage):
        return Support("missing", "the sentence denies or disowns the claim")
    if negated_in_scope(point, passage):
        return Support("missing", "the sentence negates what the point states")
    if reversed_direction(point, passage):
        return Support("missing", "the sentence states the opposite direction")
    if different_number(point, passage):
        return Support("missing", "the sentence gives a different figure")
    if is_keyword_list(passage):
        return Support("partial", "the sentence lists terms without relating them", True)
    if _HEDGE.search(passage):
        return Support("partial", "the sentence is hedged")
    figures = [t for t in key_terms(point) if t.kind == "result"]
    if figures and not any(figure_stated(t, context or passage) for t in figures):
        labels = ", ".join(t.label for t in figures[:3])
        return Support("partial", f"the quoted sentence does not state {labels}")
    return Support("covered")
