"""Who does what: claims whose words are all right but attached to the wrong thing.

The other claim checks see a negation, a reversed direction word or a different figure. These
see an answer that keeps every word of the point and swaps its roles:

- the two sides of a comparison in the opposite order ("Gopher beat Chinchilla" for "Chinchilla
  beat Gopher", "define-and-run rather than define-by-run"), with passive and losing verbs read
  the right way round ("Gopher was beaten by Chinchilla" agrees with the point);
- a figure bound to the other side ("the 280B Chinchilla" where the point has Chinchilla-70B and
  Gopher-280B);
- the point's predicate said of the thing the question contrasts it with ("decode is
  compute-bound" for "prefill: ... compute is the bottleneck"; "RMSNorm computes mean and
  variance" for "LayerNorm needs mean and variance"), where the things contrasted are those the
  question names side by side ("X vs Y", "between X and Y") and that lead rubric points ("X: ...").

Pure functions of text, no model; `graders.offline` turns them into features and contradictions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence, Set
from dataclasses import dataclass
from functools import lru_cache

from graders.claims import stem
from graders.text import visible_text

_STOP = frozenset(
    """a an the and or of to in on at by for with from as is are was were be been being it its
    this that these those there their they them we you i so than then too very can could would
    should will may might must do does did have has had what which who when where why how all any
    each some such only also just like way one use used using uses get gets make makes made well
    really basically same""".split()
)
_WORD = re.compile(r"[a-z0-9]+(?:[-_'][a-z0-9]+)*|[<>]")
# Comparisons, each with the side that comes out ahead: +1 the left, -1 the right.
_VICTORY: tuple[tuple[str, int], ...] = (
    (r"\bwas beaten by\b|\bwere beaten by\b|\bbeaten by\b", -1),
    (r"\boutperformed by\b|\bsurpassed by\b|\bbested by\b", -1),
    (r"\blost (?:out )?to\b|\bloses to\b|\blose to\b|\bfell (?:short of|behind)\b", -1),
    (r"\btrail(?:s|ed)?\b|\bunderperform(?:s|ed)?\b|\bworse than\b|\binferior to\b", -1),
    (r"\bbehind\b", -1),
    (r"\bbeat(?:s|ing)?\b|\boutperform(?:s|ed|ing)?\b|\bsurpass(?:es|ed)?\b|\bbested\b", 1),
    (r"\bcame out ahead of\b|\bcomes out ahead of\b|\bahead of\b|\bbetter than\b", 1),
    (r"\bwon against\b|\bwins against\b|\bedged out\b|\btopped\b|\bsuperior to\b", 1),
    (r"\boutclass(?:es|ed)?\b|\bovertook\b|\bovertakes\b", 1),
)
_PREFERENCE: tuple[tuple[str, int], ...] = (
    (r"\brather than\b|\binstead of\b|\bin place of\b|\bin favou?r of\b|\bover\b", 1),
)
_ADJECTIVES: tuple[tuple[str, str], ...] = (
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("more", "less"),
    ("more", "fewer"),
    ("higher", "lower"),
    ("faster", "slower"),
    ("longer", "shorter"),
    ("cheaper", "costlier"),
    ("greater", "smaller"),
)
_SIDE_WORDS = 6
_FIGURE = re.compile(r"^\d+(?:\.\d+)?[kmbt]?$")


@dataclass(frozen=True)
class _Comparison:
    kind: str
    sign: int
    # Content words on each side, nearest to the comparison first.
    left: tuple[str, ...]
    right: tuple[str, ...]


def _words(text: str) -> list[str]:
    flat = visible_text(text).lower().replace("’", "'")
    return list(_WORD.findall(flat))


def _key(word: str) -> str:
    return stem(word) if word.isalpha() else word


def _split(word: str) -> list[str]:
    """Split "chinchilla-70b" into its name and its figure; keep "define-by-run" whole."""
    parts = word.split("-")
    if len(parts) > 1 and any(_FIGURE.match(p) for p in parts):
        return [p for p in parts if p]
    return [word]


def _side(words: Sequence[str]) -> tuple[str, ...]:
    return tuple(
        _key(part) for w in words for part in _split(w) if part not in _STOP and len(part) > 1
    )


# A clause ends at these marks; a comparison's sides stay inside it.
_CLAUSE = re.compile(r"[;:.!?]\s|[;:!?]$|\s[—–-]\s|\b(?:whereas|while|but|although|however)\b")


def _clauses(text: str) -> list[str]:
    return [c for c in _CLAUSE.split(visible_text(text).lower()) if c and c.strip()]


@lru_cache(maxsize=8192)
def comparisons(text: str) -> tuple[_Comparison, ...]:
    """Return the comparisons a text states, with the content words on each side."""
    out: list[_Comparison] = []
    for clause in _clauses(text):
        found = None
        for kind, table in (("victory", _VICTORY), ("preference", _PREFERENCE)):
            for pattern, sign in table:
                match = re.search(pattern, clause)
                if match is None:
                    continue
                if kind == "preference" and match.group(0) == "over":
                    # "over" prefers only after a verb of choosing ("prefer X over Y").
                    if not re.search(r"\b(?:prefer\w*|choos\w*|chose\w*|pick\w*)\b", clause):
                        continue
                left = _side(_words(clause[: match.start()]))[::-1][:_SIDE_WORDS]
                right = _side(_words(clause[match.end() :]))[:_SIDE_WORDS]
                found = _Comparison(kind, sign, left, right)
                break
            if found:
                break
        if found:
            out.append(found)
            continue
        words = _words(clause)
        for index, word in enumerate(words[:-1]):
            if words[index + 1] != "than":
                continue
            for first, second in _ADJECTIVES:
                sign = 1 if word == first else -1 if word == second else 0
                if sign:
                    left = _side(words[:index])[::-1][:_SIDE_WORDS]
                    right = _side(words[index + 2 :])[:_SIDE_WORDS]
                    out.append(_Comparison(f"{first}/{second}", sign, left, right))
                    break
    return tuple(out)


def _sides(p: _Comparison) -> tuple[set[str], set[str]]:
    """Return the two nearest words that tell each side of the point's comparison apart."""
    left = [w for w in p.left if w not in p.right][:2]
    right = [w for w in p.right if w not in p.left][:2]
    return set(left), set(right)


def order_conflict(point: str, sentence: str) -> tuple[float, str]:
    """Tell whether the sentence puts the sides of the point's comparison the other way round.

    "Gopher beat Chinchilla" and "Chinchilla lost to Gopher" reverse "Chinchilla beat Gopher";
    "Gopher was beaten by Chinchilla" agrees with it.
    """
    for p in comparisons(point):
        own_left, own_right = _sides(p)
        if not own_left or not own_right:
            continue
        for s in comparisons(sentence):
            if s.kind != p.kind:
                continue
            left, right = set(s.left), set(s.right)
            straight = bool(left & own_left) or bool(right & own_right)
            crossed = bool(left & own_right) or bool(right & own_left)
            if straight == crossed:
                continue
            order = 1 if straight else -1
            if order * s.sign != p.sign:
                return 1.0, "puts the two sides of the comparison the other way round"
    return 0.0, ""


@lru_cache(maxsize=8192)
def _bindings(words: tuple[str, ...]) -> dict[str, str]:
    """Map each figure to the name right beside it ("chinchilla-70b", "70b chinchilla")."""
    out: dict[str, str] = {}
    content = [w for w in words if w not in _STOP]
    for index, word in enumerate(content):
        parts = word.split("-")
        if len(parts) == 2 and _FIGURE.match(parts[1]) and parts[0].isalpha():
            out[parts[1]] = parts[0]
            continue
        if len(parts) == 2 and _FIGURE.match(parts[0]) and parts[1].isalpha():
            out[parts[0]] = parts[1]
            continue
        if not _FIGURE.match(word) or not any(c.isalpha() for c in word):
            continue
        for near in (index + 1, index - 1):
            if 0 <= near < len(content) and content[near].isalpha() and len(content[near]) > 3:
                if content[near] not in ("model", "models", "parameter", "parameters"):
                    out[word] = content[near]
                    break
    return out


def binding_conflict(point: str, sentence: str) -> tuple[float, str]:
    """Tell whether the sentence gives a named thing the figure the point gives another."""
    p_bind = _bindings(tuple(_words(point)))
    names = set(p_bind.values())
    if len(names) < 2:
        return 0.0, ""
    s_bind = _bindings(tuple(_words(sentence)))
    for figure, name in s_bind.items():
        wanted = p_bind.get(figure)
        if wanted and name in names and name != wanted:
            return 1.0, f"gives {name} the figure {figure} the point gives {wanted}"
    return 0.0, ""


# ------------------------------------------------------------------ contrasted things

# One word on each side: "Workflow vs agent", "between LayerNorm and RMSNorm".
_VS = re.compile(
    r"(?:^|[,(:]\s*)([A-Za-z][\w\-]*)\s+(?:vs\.?|versus)\s+([A-Za-z][\w\-]*)"
    r"(?=\s*(?:[—–?,.:;)]|\s-\s|$))"
    r"|\bbetween\s+([A-Za-z][\w\-]*)\s+and\s+([A-Za-z][\w\-]*)(?=\s*(?:[—–?,.:;)]|$))",
    re.IGNORECASE,
)
_LEAD = re.compile(r"^\s*([A-Za-z][\w\-]*)\s*(?:\([^)]{0,30}\))?\s*:")
_GENERIC_LEADS = frozenset(
    "formula result results benefits benefit search note example examples mandatory never "
    "always step stage edge alternative correct wrong signals practical".split()
)


@lru_cache(maxsize=1024)
def contrasted(question: str, rubric: tuple[str, ...]) -> tuple[str, ...]:
    """Return the things the question sets against each other, as word stems.

    Those named side by side in the question ("X vs Y", "between X and Y"), and the words that
    lead two or more rubric points ("Prefill: ...", "Decode: ...") when the question names them.
    """
    found: list[str] = []
    for match in _VS.finditer(visible_text(question)):
        found.extend(_key(g.lower()) for g in match.groups() if g)
    q_words = {_key(w) for w in _words(question)}
    leads = []
    for point in rubric:
        lead = _LEAD.match(visible_text(point))
        if lead:
            word = _key(lead.group(1).lower())
            if word not in _GENERIC_LEADS and word in q_words:
                leads.append(word)
    if len(set(leads)) >= 2:
        found.extend(leads)
    unique = list(dict.fromkeys(w for w in found if len(w) > 1 and w not in _STOP))
    return tuple(unique) if len(unique) >= 2 else ()


def _entity_in(words: Set[str], entity: str) -> bool:
    return entity in words or any(w.startswith(entity) for w in words if len(entity) >= 5)


@lru_cache(maxsize=4096)
def _point_claims(point: str, entities: tuple[str, ...]) -> tuple[tuple[str, frozenset[str]], ...]:
    """Return (the contrasted thing, its predicate's words) for each clause about one of them."""
    out: list[tuple[str, frozenset[str]]] = []
    for clause in re.split(r";|\s[—–]\s|\.\s", visible_text(point).lower()):
        words = {_key(w) for w in _words(clause) if w not in _STOP and len(w) > 1}
        about = [e for e in entities if _entity_in(words, e)]
        if len(about) != 1:
            continue
        predicate = frozenset(
            w for w in words if not any(w == e or w.startswith(e) for e in entities)
        )
        if len(predicate) >= 2:
            out.append((about[0], predicate))
    return tuple(out)


def role_conflict(
    point: str, sentence: str, entities: Sequence[str], rubric: Sequence[str] = ()
) -> tuple[float, str]:
    """Tell whether the sentence says the point's predicate of the thing it is contrasted with.

    The predicate is the point's words about its own thing less those the rubric also says of
    the other things (what tells the two apart). The sentence is read clause by clause: the
    conflict stands when a clause about another thing states that predicate and every clause
    about the point's own thing states less of it.
    """
    if len(entities) < 2:
        return 0.0, ""
    claims = _point_claims(point, tuple(entities))
    if not claims:
        return 0.0, ""
    said_of: dict[str, set[str]] = {}
    for other in rubric:
        for name, said in _point_claims(other, tuple(entities)):
            said_of.setdefault(name, set()).update(said)
    parts = re.split(
        r";|\.\s|\s[—–]\s|\b(?:whereas|while|but|unlike|however|although)\b|,\s+(?:and|so)\s",
        visible_text(sentence).lower(),
    )
    clauses = []
    for part in parts:
        words = {_key(w) for w in _words(part) if w not in _STOP and len(w) > 1}
        if words:
            clauses.append((words, [e for e in entities if _entity_in(words, e)]))
    for own, predicate in claims:
        others = set().union(*(w for name, w in said_of.items() if name != own))
        distinct = predicate - others
        if len(distinct) >= 2:
            predicate = frozenset(distinct)
        best_own = 0
        best_other = 0
        other_name = ""
        for words, about in clauses:
            hits = len(predicate & words)
            if own in about:
                best_own = max(best_own, hits)
            elif about and hits > best_other:
                best_other, other_name = hits, about[0]
        needed = max(2, round(0.25 * len(predicate)))
        if best_other >= needed and best_other > best_own:
            return 1.0, f"says of {other_name} what the point says of {own}"
    return 0.0, ""


def swap_conflict(
    point: str, sentence: str, contrast: Sequence[str] = (), rubric: Sequence[str] = ()
) -> tuple[float, str]:
    """Return the strongest role swap the sentence makes against the point, and why."""
    for check in (order_conflict(point, sentence), binding_conflict(point, sentence)):
        if check[0]:
            return check
    if contrast:
        return role_conflict(point, sentence, contrast, rubric)
    return 0.0, ""
