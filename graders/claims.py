"""Claim checks: does a sentence state what a rubric point claims, contradict it, or only name it?

The sentence encoder sees that two texts are about the same thing; it does not see that one says
"increases" where the other says "decreases", that a "not" flips the claim, or that 13 GB is not
1.3 GB. These checks do, on the words themselves:

- negation in scope: a word the point asserts appears under a negation in one text and not the
  other ("the cache does not grow with the number of layers");
- reversed directions: the sentence says the opposite of the point's comparative or direction
  (more/less, before/after, increases/decreases), or names the same two things in the opposite
  order around it ("from bottom to top" for "from top to bottom");
- a different number or unit for the same quantity (13 GB for 1.3 GB, TP=4 for TP=2);
- substance: the point's key terms named without the relation the point states;
- paraphrase: key terms are recognised in their other forms (TP / tensor parallel, 4K / 4096,
  70B / 70 billion, N(0,1) / unit variance, d_model / model dimension).

`check_claim` gives one verdict with its reasons; `claim_features` gives the numbers the
calibrated offline model combines with sentence similarity; `best_support` picks the sentence of
an answer that best supports a point. All are pure functions of text: no model, no I/O.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from graders.text import visible_text

ClaimVerdict = Literal["supports", "contradicts", "mentions", "unrelated"]

# ------------------------------------------------------------------ words

_STOP = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been being it
    its this that these those there their they them we our you your i my me he she his her so than
    then too very can could would should will shall may might must do does did have has had what
    which who whom when where why how all any each other some such only own same into
    also just like way e g eg ie i.e etc via per vs one s t re ll ve d m use used using uses
    get gets got make makes made well really basically thing things stuff kind sort lot
    lots""".split()
)
# Negation cues and the words that end their scope.
_NEGATORS = frozenset(
    """not no never none nothing neither nor without skip skips skipped skipping omit omits
    omitted omitting lacks lacking cannot cant regardless insensitive unaffected
    dont doesnt isnt arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt didnt
    nobody nowhere""".split()
)
# Words that deny a whole sentence ("it's a myth that ...", "... is wrong").
# ("wrong" and "false" are left out: "the wrong signal" and "false positives" deny nothing.)
_SENTENCE_DENIERS = frozenset({"myth", "untrue", "misconception", "fallacy"})
_SCOPE_END = frozenset({"but", "however", "although", "though", "whereas", "while", "yet"})
_SCOPE_WORDS = 4
_CONTRACTION = re.compile(r"\b(\w+)n[’']t\b", re.IGNORECASE)

# Opposite directions and comparatives, as stems (see `stem`).
_OPPOSITES: tuple[tuple[str, str], ...] = (
    ("more", "less"),
    ("more", "fewer"),
    ("higher", "lower"),
    ("high", "low"),
    ("larger", "smaller"),
    ("bigger", "smaller"),
    ("large", "small"),
    ("increas", "decreas"),
    ("increas", "reduc"),
    ("grow", "shrink"),
    ("rise", "fall"),
    ("raise", "lower"),
    ("before", "after"),
    ("first", "last"),
    ("faster", "slower"),
    ("fast", "slow"),
    ("longer", "shorter"),
    ("long", "short"),
    ("up", "down"),
    ("above", "below"),
    ("top", "bottom"),
    ("front", "end"),
    ("front", "back"),
    ("head", "tail"),
    ("oldest", "newest"),
    ("least", "most"),
    ("upper", "lower"),
    ("maximum", "minimum"),
    ("max", "min"),
    ("better", "worse"),
    ("improv", "degrad"),
    ("improv", "hurt"),
    ("add", "remov"),
    ("add", "subtract"),
    ("allow", "forbid"),
    ("allow", "prevent"),
    ("enabl", "disabl"),
    ("early", "late"),
    ("earlier", "later"),
    ("wider", "narrower"),
    ("cheaper", "expens"),
    ("overestim", "underestim"),
    ("strict", "loose"),
    ("lossless", "lossy"),
    ("pre", "post"),
    ("deterministic", "random"),
    ("deterministic", "randomiz"),
    ("synchronou", "asynchronou"),
    ("stateles", "stateful"),
    ("push", "pull"),
    ("onlin", "offlin"),
    ("within", "acros"),
    ("insid", "outsid"),
    ("spars", "dens"),
    ("eas", "hard"),
    ("easi", "hard"),
    ("cold", "warm"),
    ("singl", "multipl"),
)
_OPPOSITE_OF: dict[str, frozenset[str]] = {}
for _a, _b in _OPPOSITES:
    _OPPOSITE_OF[_a] = _OPPOSITE_OF.get(_a, frozenset()) | {_b}
    _OPPOSITE_OF[_b] = _OPPOSITE_OF.get(_b, frozenset()) | {_a}

# Words that mean the same for matching purposes (stem -> canonical stem).
_SAME = {
    "grow": "increas",
    "rise": "increas",
    "goe": "increas",
    "climb": "increas",
    "scal": "scal",
    "drop": "decreas",
    "shrink": "decreas",
    "cut": "reduc",
    "lower": "lower",
    "bigger": "larger",
    "huge": "large",
    "tiny": "small",
    "quick": "fast",
    "speed": "fast",
    "latenc": "latenc",
    "throughput": "throughput",
    "gpu": "gpu",
    "accelerator": "gpu",
    "vram": "hbm",
    "dimension": "dim",
    "dim": "dim",
    "dimensional": "dim",
    "width": "dim",
    "size": "size",
    "sequenc": "sequenc",
    "request": "request",
    "queri": "request",
    "token": "token",
    "paramet": "param",
    "param": "param",
    "weight": "weight",
    "variance": "varianc",
    "varianc": "varianc",
    "std": "varianc",
    "deviat": "varianc",
    "spread": "varianc",
    "saturat": "saturat",
    "flat": "saturat",
    "peak": "saturat",
    "vanish": "vanish",
    "disappear": "vanish",
    "zero": "vanish",
    "tini": "small",
    "copi": "copi",
    "duplic": "duplic",
    "dedup": "duplic",
    "idempot": "idempot",
    "retri": "retri",
    "retry": "retri",
    "resend": "retri",
    "fine": "fine",
    "finetun": "fine",
    "tun": "tun",
    "memori": "memory",
    "mem": "memory",
    "ram": "memory",
    "storag": "memory",
    "footprint": "memory",
    "cost": "cost",
    "price": "cost",
    "expens": "cost",
    "cheap": "cost",
    "user": "user",
    "customer": "user",
    "client": "user",
    "concurr": "concurr",
    "parallel": "concurr",
    "simultan": "concurr",
    "fail": "fail",
    "failur": "fail",
    "crash": "fail",
    "outag": "fail",
    "error": "error",
    "mistak": "error",
    "bug": "error",
    "stale": "stale",
    "outdat": "stale",
}


@lru_cache(maxsize=20_000)
def stem(word: str) -> str:
    """Return a crude stem of a lower-case word, enough to match inflections."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix in (
        "ational",
        "ization",
        "ations",
        "ation",
        "ments",
        "ment",
        "ness",
        "ingly",
        "ings",
        "ing",
        "edly",
        "ies",
        "ied",
        "ers",
        "ed",
        "es",
        "ly",
        "er",
        "e",
        "s",
        "y",
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix == "er" and word in ("higher", "lower", "faster", "slower", "larger"):
                return word
            return base
    return word


def _canon(word: str) -> str:
    s = stem(word)
    return _SAME.get(s, s)


# One-word negations, spelt out so the negation check sees them ("unchanged" = "not changed").
# The prefix denies that word alone: "immutable content hashes" says nothing against "content".
_NEGATIVE_WORDS = re.compile(
    r"\b(un)(changed|affected|necessary|needed|bounded|safe|stable|related)\b|"
    r"\b(im)(possible|mutable)\b"
)
_WORD_NEGATOR = "¬"
_SPECIAL_CONTRACTIONS = (
    (re.compile(r"\bcan[’']t\b"), " cannot "),
    (re.compile(r"\bwon[’']t\b"), " wont "),
)
# A negation right after a comma sets its words against the clause before: "the GPU is the
# bottleneck, not the CPU" says the CPU is not the bottleneck, not that nothing is.
_CONTRASTIVE = re.compile(r",\s*(?=(?:not|never|no)\b)")
_CONTRAST_MARK = "‖"
# "Drops the bias" takes something away, like "skips"; "latency drops by half", "a drop in
# throughput" and "drops when the cache fills" do not.
_PRIVATIVE_DROP = re.compile(
    r"(?<!\ba )(?<!\bthe )\bdrop(?:s|ped|ping)?\b(?=\s+(?!(?:by|to|from|in|into|down|off|out|and|"
    r"or|below|under|as|when|while|if|once|after|before|at|with|sharply|significantly|slightly|"
    r"dramatically|quickly|further|back|again|fast|rapidly)\b)[a-z])"
)
# Words that open a condition: what follows, to the end of the clause, is not asserted ("only
# reproducible if you can rebuild the dataset" says nothing for or against rebuilding it).
_CONDITIONS = frozenset({"if", "unless", "whether"})


def _normalise(text: str) -> str:
    flat = _NEGATIVE_WORDS.sub(
        lambda m: f"{_WORD_NEGATOR}{m.group(2) or m.group(4)}", visible_text(text).lower()
    )
    for pattern, cue in _SPECIAL_CONTRACTIONS:
        flat = pattern.sub(cue, flat)
    flat = _CONTRACTION.sub(lambda m: f"{m.group(1)} not", flat)
    return _PRIVATIVE_DROP.sub("skips", flat)


@dataclass(frozen=True)
class _Token:
    word: str
    canon: str
    negated: bool
    position: int
    # The clause does not assert the word either way: it stands before a negation in its clause
    # ("the whole row never has to exist": what is denied something, not what is denied) or in a
    # condition ("if you can rebuild the dataset").
    unasserted: bool = False
    # What a "without" takes away: the claim is what happens in its absence.
    absent: bool = False


# How many words before a negation, in its clause, may be what it denies something of.
_SUBJECT_WORDS = 4


@lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[_Token, ...]:
    """Tokenise, marking each word that stands under a negation."""
    flat = _CONTRASTIVE.sub(f" {_CONTRAST_MARK} ", _normalise(text))
    # Punctuation that closes a clause also closes a negation's scope.
    marked = re.sub(r"[,;:()\[\]—–]|\s-\s|\.(?:\s|$)", " | ", flat)
    words = re.findall(
        rf"\||{_CONTRAST_MARK}|{_WORD_NEGATOR}|[a-z0-9]+(?:[_'][a-z0-9]+)*|[<>=≤≥]", marked
    )
    out: list[_Token] = []
    scope = 0
    denied = any(w in _SENTENCE_DENIERS for w in words)
    position = 0
    # Where the current clause starts in `out`, and where the one before it started.
    clause_at = 0
    previous_clause_at = 0
    contrast = False
    condition = False
    absence = False

    def unsure(start: int, end: int) -> None:
        for i in range(max(start, end - _SUBJECT_WORDS), end):
            if not out[i].negated:
                out[i] = _Token(out[i].word, out[i].canon, out[i].negated, out[i].position, True)

    for word in words:
        if word in ("|", _CONTRAST_MARK) or word in _SCOPE_END:
            scope = 0
            previous_clause_at, clause_at = clause_at, len(out)
            contrast = word == _CONTRAST_MARK
            condition = False
            continue
        if word in _CONDITIONS:
            condition = True
            continue
        if word == _WORD_NEGATOR:
            scope = 1
            continue
        if word in _NEGATORS:
            scope = _SCOPE_WORDS
            absence = word == "without"
            unsure(clause_at, len(out))
            if contrast:
                unsure(previous_clause_at, clause_at)
            continue
        negated = scope > 0
        scope = max(0, scope - 1)
        if word in _STOP or word in _SENTENCE_DENIERS:
            continue
        absent = negated and absence
        negated ^= denied
        out.append(_Token(word, _canon(word), negated, position, condition and not negated, absent))
        position += 1
    return tuple(out)


@lru_cache(maxsize=4096)
def term_bag(point: str) -> str:
    """Return the point's content words as a bare list: what a padded answer says of it.

    The sentence encoder puts "it's about tokens, parameters and the ratio" close to a point that
    names them; it puts a sentence that states the point's claim closer to the point than to this
    list. The offline grader measures that difference.
    """
    seen: dict[str, str] = {}
    for token in _tokens(point):
        if token.canon[:1].isdigit() or len(token.word) < 2:
            continue
        seen.setdefault(token.canon, token.word)
    words = list(seen.values())
    if not words:
        return point
    return "It is about " + ", ".join(words) + "; these are important."


# ------------------------------------------------------------------ numbers

_NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "twice": 2,
    "single": 1,
    "double": 2,
    "half": 0.5,
}
_MAGNITUDE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "million": 1e6,
    "mn": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}
_BYTES = {
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 1e3,
    "kib": 1024,
    "mb": 1e6,
    "mib": 1024**2,
    "gb": 1e9,
    "gib": 1024**3,
    "tb": 1e12,
    "tib": 1024**4,
}
_TIME = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "millisecond": 1e-3,
    "milliseconds": 1e-3,
    "s": 1,
    "sec": 1,
    "secs": 1,
    "second": 1,
    "seconds": 1,
    "min": 60,
    "mins": 60,
    "minute": 60,
    "minutes": 60,
    "h": 3600,
    "hr": 3600,
    "hrs": 3600,
    "hour": 3600,
    "hours": 3600,
    "day": 86400,
    "days": 86400,
}
_QUANTITY = re.compile(
    r"(?P<money>\$)?(?P<num>\d+(?:[.,]\d+)*)"
    r"(?:\s?(?:[-–]|to)\s?(?P<hi>\d+(?:\.\d+)?))?"
    r"[\s-]?(?:(?P<unit>%|×(?!\s?\d)|(?:percent|x(?!\s?\d)|times|fold|[kmgt]i?b|bytes?|[kmbt]|bn|mn|thousand|million"
    r"|billion|trillion|ns|us|µs|ms|milliseconds?|secs?|seconds?|s|mins?|minutes?|hrs?|hours?|h"
    r"|days?)(?![a-z0-9])))?",
    re.IGNORECASE,
)
_LABELLED = re.compile(
    r"\b(?P<label>[a-z][a-z_]{0,15}|[a-z]+\d?)\s?(?:=|:|of|is|at)?\s?(?P<num>\d+(?:\.\d+)?)\b",
    re.IGNORECASE,
)
_LABELS = frozenset(
    {"tp", "pp", "dp", "ep", "k", "m", "n", "top_k", "top_p", "psi", "p", "batch", "rank", "r"}
)
_WORD_NUMBER = re.compile(
    r"\b(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Quantity:
    """A figure stated in a text: its family (bytes, time, percent, times, money, count)."""

    family: str
    low: float
    high: float
    text: str
    # True when the figure came with a magnitude or unit, so a different value is a claim.
    explicit: bool
    # The word the figure counts or measures, when one follows ("1.4T tokens" -> "token").
    noun: str = ""
    # "<" for a figure stated as an upper bound ("<3B", "under 3B", "at most 3B"), ">" for a
    # lower bound ("over 80%", "at least 80%"), "" for the figure itself.
    bound: str = ""

    def same_quantity(self, other: Quantity) -> bool:
        """Tell whether two figures can be about the same thing (family and noun agree)."""
        if self.family != other.family:
            return False
        return not (self.noun and other.noun and self.noun != other.noun)

    def matches(self, other: Quantity) -> bool:
        """Tell whether two figures state the same quantity (within rounding).

        A figure within a bound the other states ("2B" for "<3B") agrees with it; two bounds
        agree when they point the same way at the same figure.
        """
        if self.family != other.family:
            return False
        if self.bound and other.bound:
            return self.bound == other.bound and _within(self.low, self.high, other.low, other.high)
        if self.bound or other.bound:
            bounded, value = (self, other) if self.bound else (other, self)
            if bounded.bound == "<":
                return value.low <= bounded.high * 1.1 + 1e-12
            return value.high >= bounded.low * 0.9 - 1e-12
        return _within(self.low, self.high, other.low, other.high)


def _within(a_lo: float, a_hi: float, b_lo: float, b_hi: float) -> bool:
    tol = 0.1
    return b_hi >= a_lo * (1 - tol) - 1e-12 and b_lo <= a_hi * (1 + tol) + 1e-12


def _to_float(raw: str) -> float | None:
    text = raw
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", text):
        text = text.replace(",", "")
    text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def _spell_numbers(text: str) -> str:
    return _WORD_NUMBER.sub(lambda m: str(_NUMBER_WORDS[m.group(1).lower()]), text)


@lru_cache(maxsize=8192)
def quantities(text: str) -> tuple[Quantity, ...]:
    """Extract the figures a text states, with their unit family and value."""
    flat = _spell_numbers(visible_text(text))
    out: list[Quantity] = []
    for match in _QUANTITY.finditer(flat):
        start = match.start()
        if start > 0 and (flat[start - 1].isalnum() or flat[start - 1] in "_."):
            continue
        value = _to_float(match.group("num"))
        if value is None:
            continue
        high_raw = match.group("hi")
        high = _to_float(high_raw) if high_raw else None
        unit = (match.group("unit") or "").lower()
        family, scale, explicit = "count", 1.0, False
        if match.group("money"):
            family, explicit = "money", True
        elif unit in ("%", "percent"):
            family, explicit = "percent", True
        elif unit in ("×", "x", "times", "fold"):
            family, explicit = "times", True
        elif unit in _BYTES and unit != "b":
            family, scale, explicit = "bytes", _BYTES[unit], True
        elif unit in _MAGNITUDE:
            family, scale, explicit = "count", _MAGNITUDE[unit], True
        elif unit in _TIME:
            family, scale, explicit = "time", _TIME[unit], True
        low = value * scale
        top = (high * scale) if high is not None else low
        after = _NOUN_AFTER.match(flat, match.end())
        noun = ""
        if after:
            word = after.group(1).lower()
            noun = "" if word in _STOP or word in _NOT_NOUNS else _canon(word)
        text = match.group(0).strip()
        before = flat[max(0, start - 16) : start]
        found = _BELOW.search(before) or _ABOVE.search(before)
        bound = "" if found is None else "<" if found.re is _BELOW else ">"
        if found is not None:
            # Told as written, bound and all: "states over 3B where the point has <3B".
            word = found.group(0).strip()
            text = f"{word}{text}" if not word[-1].isalpha() else f"{word} {text}"
        out.append(Quantity(family, low, max(low, top), text, explicit, noun, bound))
    return tuple(out)


_NOUN_AFTER = re.compile(r"[\s-]*(?:per\s+|of\s+|a\s+|an\s+)?([A-Za-z]{3,})")
_BELOW = re.compile(
    r"(?:<|≤|=<|\b(?:under|below|less than|fewer than|smaller than|up to|at most|no more than)"
    r"|\bsub-?)\s*[~≈]?\s*$",
    re.IGNORECASE,
)
_ABOVE = re.compile(
    r"(?:>|≥|>=|\b(?:over|above|more than|greater than|beyond|at least|exceeds?|no less than))"
    r"\s*[~≈]?\s*$",
    re.IGNORECASE,
)
_NOT_NOUNS = frozenset({"per", "and", "with", "than", "more", "less", "about", "roughly"})


@lru_cache(maxsize=8192)
def labelled_values(text: str) -> dict[str, float]:
    """Return settings stated as `NAME=value` ("TP=2", "k = 10", "PSI > 0.2")."""
    flat = visible_text(text)
    found: dict[str, float] = {}
    for match in re.finditer(
        r"\b([A-Za-z][A-Za-z_]{0,15})\s?(?:=|>|<|≥|≤|>=|<=)\s?(\d+(?:\.\d+)?)", flat
    ):
        found[match.group(1).lower()] = float(match.group(2))
    for match in re.finditer(r"\b(TP|PP|DP|EP)\s?(\d+)\b", flat):
        found[match.group(1).lower()] = float(match.group(2))
    return found


# ------------------------------------------------------------------ key terms and their forms

# Forms of terms that are not spelt by initials: each pattern also accepts the term itself.
_ALIASES: dict[str, str] = {
    "d_model": r"d_model|model dim\w*|hidden (?:size|dim\w*)|embedding dim\w*|dimension\w*|"
    r"\bd\b|width of the model",
    "d_head": r"d_head|head[ _]dim\w*|per-head dim\w*|dimension of each head|head[ _]size",
    "d_k": r"d_k|key dim\w*|head dim\w*|dimension\w*|\bd\b",
    "n(0,1)": r"n\(0, ?1\)|standard normal|unit[- ]variance|variance (?:of )?(?:1|one)|"
    r"zero[- ]mean|mean (?:of )?0|gaussian",
    "fp32": r"fp32|float32|32-bit|single precision|full precision|4 bytes",
    "fp16": r"fp16|float16|half precision|16-bit",
    "bf16": r"bf16|bfloat16|brain float|16-bit|2 bytes",
    "fp8": r"fp8|8-bit float|1 byte",
    "int8": r"int8|8-bit|1 byte",
    "int4": r"int4|4-bit|half a byte",
    "p99": r"p99|99th percentile|99th-percentile|tail latency",
    "p50": r"p50|median",
    "qps": r"qps|requests? per second|req/s|queries per second|rps",
    "hbm": r"hbm|gpu memory|device memory|vram|high[- ]bandwidth memory",
    "kv": r"\bkv\b|key[- /]value|keys? and values?",
    "lora": r"lora|low[- ]rank adapt\w*|adapters?",
    "ppo": r"ppo|proximal policy",
    "rl": r"\brl\b|reinforcement learning",
    "ks": r"\bks\b|kolmogorov",
    "oom": r"\boom\b|out[- ]of[- ]memory|run out of memory|runs out of memory",
    "ttl": r"\bttl\b|time[- ]to[- ]live|expir\w*",
    "slo": r"\bslo\b|service[- ]level objective|target availability|reliability target",
    "ivf": r"\bivf\b|inverted file|inverted index",
    "incr": r"incr\b|increment\w*|counter",
    "tp": r"tensor[- ]parallel\w*|(?:split|shard\w*|spread) (?:across|over) (?:2|two|\d+) GPUs",
}
_INITIAL_STOP = frozenset({"of", "the", "a", "an", "and", "to", "for", "in", "on"})


def _initialism(term: str, text: str) -> bool:
    """Tell whether the text spells out an acronym ("tensor parallel" for TP)."""
    letters = term.lower().rstrip("s")
    if not letters.isalpha() or not 2 <= len(letters) <= 5:
        return False
    words = [w for w in re.findall(r"[a-z]+", text.lower()) if w not in _INITIAL_STOP]
    # Hyphenated compounds count once per part: "fine-tuning" gives f and t.
    n = len(letters)
    for i in range(len(words) - n + 1):
        if all(words[i + j][0] == letters[j] for j in range(n)):
            # Each spelt-out word must be a real word, not a letter of a formula.
            if all(len(words[i + j]) > 2 for j in range(n)):
                return True
    return False


@dataclass(frozen=True)
class Term:
    """A key term of a rubric point and every form in which it is recognised."""

    label: str
    pattern: re.Pattern[str]
    acronym: bool = False
    quantity: Quantity | None = None

    def found_in(self, text: str) -> bool:
        """Tell whether the term is stated in the text, in any recognised form."""
        if self.quantity is not None:
            return any(
                self.quantity.matches(q) or q.matches(self.quantity) for q in quantities(text)
            )
        if self.pattern.search(visible_text(text)):
            return True
        return self.acronym and _initialism(self.label, text)


_ACRONYM = re.compile(r"\b[A-Z][A-Z0-9]*[A-Z][A-Z0-9]*s?\b|\b[A-Z]{1,3}\d+[A-Za-z0-9]*\b")
_SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
_SPECIAL = re.compile(r"N\(0, ?1\)|\bp99\b|\bp50\b|\bd_model\b|\bd_head\b|\bd_k\b", re.IGNORECASE)
_GENERIC = frozenset(
    {"gpu", "gpus", "cpu", "api", "apis", "llm", "llms", "ml", "ai", "io", "ok"}
    | {"kb", "mb", "gb", "tb", "kib", "mib", "gib", "tib", "ms", "us", "ns"}
)


@lru_cache(maxsize=4096)
def point_terms(point: str) -> tuple[Term, ...]:
    """Return the key terms a rubric point turns on: figures, acronyms and identifiers."""
    text = visible_text(point)
    terms: dict[str, Term] = {}
    # N(0,1) is a distribution, not the figure 0.1.
    for q in quantities(_SPECIAL.sub(" ", text)):
        if q.explicit or q.low >= 10 or (q.low != int(q.low)):
            key = f"{q.family}:{q.low:g}"
            if key not in terms:
                terms[key] = Term(q.text, re.compile(re.escape(q.text)), quantity=q)
    for match in _SPECIAL.finditer(text):
        key = match.group(0).lower().replace(" ", "")
        alias = _ALIASES.get(key, re.escape(key))
        terms.setdefault(key, Term(match.group(0), re.compile(alias, re.IGNORECASE)))
    for match in _ACRONYM.finditer(text):
        word = match.group(0)
        key = word.lower()
        base = key.rstrip("s") if len(key) > 2 else key
        if base in _GENERIC or key in _GENERIC or base in terms or key in terms:
            continue
        if re.fullmatch(r"[a-z]+\d+[a-z]*", base) and base not in _ALIASES:
            # Model names like H100 or A100: the name itself.
            pattern = re.compile(rf"(?<![\w]){re.escape(base)}(?![\d])", re.IGNORECASE)
        else:
            known = _ALIASES.get(base)
            body = rf"(?<![\w]){re.escape(base)}s?(?![\w])"
            pattern = re.compile(f"{body}|{known}" if known else body, re.IGNORECASE)
        terms[base] = Term(word, pattern, acronym=base.isalpha())
    for match in _SNAKE.finditer(text):
        key = match.group(0).lower()
        if key in terms:
            continue
        alias = _ALIASES.get(key, "")
        if not alias:
            parts = [p for p in key.split("_") if len(p) > 1 and p not in ("num", "per")]
            # "n_kv_heads" is also "kv heads"; "bytes_per_element" is "bytes per element".
            # ... and "kv_heads" or "kv-heads": any separator between the parts.
            alias = r"[\W_]+(?:\w+[\W_]+){0,2}?".join(re.escape(p) for p in parts) if parts else key
            alias = f"{re.escape(key)}|{alias}"
        terms[key] = Term(match.group(0), re.compile(alias, re.IGNORECASE))
    return tuple(terms.values())


def figures_stated(point: str, answer: str) -> float | None:
    """Return the share of the point's figures with units that the answer states; None if none.

    "13 GB" counts when the answer says 13 GB (or 13,000 MB); a bare count does not take part.
    """
    wanted = [q for q in quantities(point) if q.explicit]
    if not wanted:
        return None
    said = quantities(answer)
    return sum(any(q.matches(s) or s.matches(q) for s in said) for q in wanted) / len(wanted)


def terms_absent(point: str, answer: str) -> tuple[str, ...]:
    """Return the point's key terms that the answer states in none of their recognised forms."""
    return tuple(t.label for t in point_terms(point) if not t.found_in(answer))


# ------------------------------------------------------------------ the checks


@dataclass(frozen=True)
class ClaimCheck:
    """What a sentence does with a rubric point's claim, how sure the check is, and why."""

    verdict: ClaimVerdict
    confidence: float
    reasons: tuple[str, ...]
    # Share of the point's content words the sentence states (any inflection or synonym).
    coverage: float = 0.0
    # Share of the point's key terms (figures, acronyms, identifiers) the sentence states.
    terms: float | None = None
    # Share of the point's other words (its relation: verbs, comparatives) the sentence states.
    relation: float = 0.0
    negation_conflict: float = 0.0
    direction_conflict: float = 0.0
    number_conflict: float = 0.0
    # Share of the point's figures the sentence states; None when the point states none.
    numbers: float | None = None
    term_labels_found: tuple[str, ...] = field(default_factory=tuple)


_NUMERIC = re.compile(r"[0-9][0-9a-z]*")


def _content(tokens: Sequence[_Token]) -> dict[str, _Token]:
    out: dict[str, _Token] = {}
    for token in tokens:
        out.setdefault(token.canon, token)
    return out


def _negation_conflict(point: Sequence[_Token], sentence: Sequence[_Token]) -> tuple[float, str]:
    shared = {t.canon for t in point} & {t.canon for t in sentence}
    if not shared:
        return 0.0, ""
    point_neg = {t.canon for t in point if t.negated}
    point_pos = {t.canon for t in point if not t.negated and not t.unasserted}
    sent_neg = {t.canon for t in sentence if t.negated}
    sent_pos = {t.canon for t in sentence if not t.negated and not t.unasserted}
    flipped = [
        c
        for c in shared
        if (c in point_neg) != (c in sent_neg)
        # A word that only stands before a negation has no polarity of its own to flip.
        and (c in point_neg or c in point_pos)
        and (c in sent_neg or c in sent_pos)
        # A word either text uses both ways says nothing about polarity.
        and not (c in sent_pos and c in sent_neg)
        and not (c in point_pos and c in point_neg)
    ]
    # "Without scaling, softmax saturates" and "scaled, so the softmax doesn't saturate" are
    # one claim told from either side: when what the point's "without" takes away is there in
    # the sentence, a consequence the sentence denies is the point's, not its opposite.
    absent = {t.canon for t in point if t.absent}
    restored = [c for c in flipped if c in absent and c in sent_pos]
    denied_result = [c for c in flipped if c in point_pos and c in sent_neg]
    if restored and denied_result and len(restored) + len(denied_result) == len(flipped):
        return 0.0, ""
    # The flipped word must stand in the same context in both ("no build tools" is not
    # contradicted by "the built artifacts").
    p_at = {t.canon: t.position for t in point}
    s_at = {t.canon: t.position for t in sentence}
    flipped = [c for c in flipped if _context(point, p_at[c], 5) & _context(sentence, s_at[c], 5)]
    if not flipped:
        return 0.0, ""
    share = len(flipped) / len(shared)
    # Named as the point writes them, not by their stems ("saturates", not "saturat").
    said = {t.canon: t.word for t in reversed(point)}
    words = ", ".join(sorted(said[c] for c in flipped)[:3])
    return min(1.0, share * 2), f"denies what the point says about {words}"


def _direction_key(word: str) -> str:
    return word if word in _OPPOSITE_OF else stem(word)


def _context(tokens: Sequence[_Token], position: int, width: int = 3) -> set[str]:
    return {
        t.canon for t in tokens if t.position != position and abs(t.position - position) <= width
    }


def _governed(tokens: Sequence[_Token]) -> dict[tuple[str, str, bool], _Token]:
    """Return each direction word with the word just before it ("evict ... front")."""
    out: dict[tuple[str, str, bool], _Token] = {}
    for before, token in itertools.pairwise(tokens):
        key = _direction_key(token.word)
        if key in _OPPOSITE_OF and _direction_key(before.word) not in _OPPOSITE_OF:
            out.setdefault((before.canon, key, token.negated), token)
    return out


def _direction_conflict(point: Sequence[_Token], sentence: Sequence[_Token]) -> tuple[float, str]:
    p_words = {_direction_key(t.word): t for t in point}
    s_words = {_direction_key(t.word): t for t in sentence}
    for word, token in p_words.items():
        opposites = _OPPOSITE_OF.get(word)
        if not opposites or (opposites & p_words.keys()):
            continue
        for opposite in opposites:
            s_token = s_words.get(opposite)
            if s_token is None or word in s_words:
                continue
            if s_token.negated != token.negated:
                # "not lower" for "higher": the same direction, said differently.
                continue
            # The opposite word must qualify the same thing ("lower throughput" for "higher
            # throughput"), not something else ("a small runtime base" for "a large image").
            shared = _context(point, token.position) & _context(sentence, s_token.position)
            if not shared:
                continue
            return 1.0, f"says '{s_token.word}' where the point says '{token.word}'"
    # A point that uses both words of a pair ("insert at the end and evict from the front"):
    # the sentence attaches the opposite word to what the point attaches one of them to ("evict
    # from the end"), and never the point's own word.
    p_governed = _governed(point)
    s_governed = _governed(sentence)
    for (governor, word, negated), token in s_governed.items():
        for opposite in _OPPOSITE_OF.get(word, frozenset()):
            if (
                {word, opposite} <= p_words.keys()
                and (governor, opposite, negated) in p_governed
                and (governor, word, negated) not in p_governed
                and (governor, opposite, negated) not in s_governed
            ):
                said = p_governed[(governor, opposite, negated)].word
                return 1.0, f"says '{token.word}' where the point says '{said}'"
    # The same pair in both texts, in the opposite order ("bottom to top" for "top to bottom").
    p_pos = {_direction_key(t.word): t.position for t in point}
    s_pos = {_direction_key(t.word): t.position for t in sentence}
    for a, b in _OPPOSITES:
        if {a, b} <= p_pos.keys() and {a, b} <= s_pos.keys():
            close = abs(p_pos[a] - p_pos[b]) <= 4 and abs(s_pos[a] - s_pos[b]) <= 4
            if close and (p_pos[a] < p_pos[b]) != (s_pos[a] < s_pos[b]):
                return 0.8, f"puts '{a}' and '{b}' in the opposite order"
    return 0.0, ""


_POINT_CLAUSE = re.compile(r";|\s[—–]\s|\.\s")
_SENTENCE_CLAUSE = re.compile(r";|,|\.\s|\b(?:and|while|whereas|but|unlike)\b")


def _about(tokens: Sequence[_Token], things: Sequence[str]) -> list[str]:
    return [t for t in things if any(token.word.startswith(t) for token in tokens)]


def _ordered_of_other(point: str, sentence: str, things: Sequence[str]) -> tuple[float, str]:
    """Tell whether the sentence gives the point's order or direction to the other thing.

    "ELT transforms data before loading" against "ETL: transform before loading": the question
    sets ETL against ELT, and the word that tells them apart ("before") is said of the wrong one,
    with the same action, while no clause says it of the right one.
    """
    if len(things) < 2:
        return 0.0, ""
    sentence_clauses = [_tokens(c) for c in _SENTENCE_CLAUSE.split(visible_text(sentence))]
    for clause in _POINT_CLAUSE.split(visible_text(point)):
        p_tokens = _tokens(clause)
        about = _about(p_tokens, things)
        if len(about) != 1:
            continue
        own = about[0]
        p_words = {_direction_key(t.word) for t in p_tokens}
        directions = {w for w in p_words if w in _OPPOSITE_OF}
        actions = {t.canon for t in p_tokens if not t.word.startswith(own)} - directions
        said_of: dict[str, set[str]] = {}
        for s_tokens in sentence_clauses:
            named = _about(s_tokens, things)
            if len(named) != 1:
                continue
            s_words = {_direction_key(t.word) for t in s_tokens}
            if not (actions & {t.canon for t in s_tokens}):
                continue
            said_of.setdefault(named[0], set()).update(directions & s_words)
        for other, words in said_of.items():
            if other != own and words and not (words & said_of.get(own, set())):
                word = sorted(words)[0]
                return 1.0, f"says '{word}' of {other} where the point says it of {own}"
    return 0.0, ""


_BIG_O = re.compile(r"\bO\(([^()]{1,20})\)")


_PRODUCT = re.compile(r"\d+(?:\.\d+)?(?:\s?[×*]\s?\d+(?:\.\d+)?)+")


@lru_cache(maxsize=4096)
def _products(text: str) -> tuple[float, ...]:
    """Return the value of each product the text writes out ("20 × 2" -> 40)."""
    out: list[float] = []
    for match in _PRODUCT.finditer(_spell_numbers(visible_text(text))):
        value = 1.0
        for factor in re.split(r"\s?[×*]\s?", match.group(0)):
            value *= float(factor)
        out.append(value)
    return tuple(out)


def _number_conflict(point: str, sentence: str) -> tuple[float, float | None, str]:
    p_q = [q for q in quantities(point) if q.explicit or q.low >= 10 or q.low != int(q.low)]
    s_q = quantities(sentence)
    matched = [q for q in p_q if any(q.matches(s) or s.matches(q) for s in s_q)]
    share = len(matched) / len(p_q) if p_q else None
    conflict = 0.0
    reason = ""
    counted = [q for q in quantities(point) if q.noun]
    for s in s_q:
        if any(q.matches(s) or s.matches(q) for q in p_q):
            # The sentence states one of the point's own figures ("the 70-billion model" for
            # "Chinchilla-70B beat Gopher-280B"), whatever it says it of.
            continue
        # Two figures are rivals when both carry a unit of the same kind, or both count the
        # same thing ("one token per parameter" against "20 tokens per parameter").
        rivals = [q for q in p_q if s.explicit and q.explicit and q.same_quantity(s)]
        rivals += [q for q in counted if s.noun and q.noun == s.noun and q.family == s.family]
        if not rivals:
            continue
        # A sentence that states one of the point's figures for this quantity is not in
        # conflict because it also states a component ("4 + 4 bytes" for "8 bytes").
        if not rivals or any(q.matches(x) or x.matches(q) for q in rivals for x in s_q):
            continue
        # Nor is one that states what the point multiplies out ("40 GPUs" for "20 × 2 GPUs").
        if any(_within(v, v, s.low, s.high) for v in _products(point)):
            continue
        conflict = 1.0
        reason = f"states {s.text} where the point has {rivals[0].text}"
        break
    p_big_o = {o.replace(" ", "") for o in _BIG_O.findall(visible_text(point))}
    s_big_o = {o.replace(" ", "") for o in _BIG_O.findall(visible_text(sentence))}
    if p_big_o and s_big_o and not p_big_o & s_big_o:
        conflict = 1.0
        reason = f"states O({sorted(s_big_o)[0]}) where the point has O({sorted(p_big_o)[0]})"
    p_lab = labelled_values(point)
    s_lab = labelled_values(sentence)
    for label, value in p_lab.items():
        other = s_lab.get(label)
        if other is not None and not math.isclose(other, value, rel_tol=0.05):
            conflict = 1.0
            reason = f"sets {label} to {other:g} where the point has {value:g}"
    return conflict, share, reason


def check_claim(
    point: str, sentence: str, *, contrast: Sequence[str] = (), rubric: Sequence[str] = ()
) -> ClaimCheck:
    """Say whether a sentence supports, contradicts, only mentions, or is unrelated to a point.

    Pure text rules, no model: the verdict is a first opinion with a confidence, and the numbers
    on the result are what the calibrated offline model weighs. A contradiction needs shared
    content (the sentence is about the point) and a flipped negation, a reversed direction or a
    different figure for the same quantity, or the point's roles swapped (`graders.roles`: the
    sides of a comparison reversed, a figure given to the other side, the predicate said of the
    thing the question contrasts with; `contrast` and `rubric` name those things and the
    question's points).
    """
    # Imported here: graders.roles builds on this module's stemmer.
    from graders.roles import swap_conflict

    p_tokens = _tokens(point)
    s_tokens = _tokens(sentence)
    # Figures are checked as quantities below, not as words.
    p_content = {c: t for c, t in _content(p_tokens).items() if not _NUMERIC.fullmatch(c)}
    s_canons = {t.canon for t in s_tokens}
    terms = point_terms(point)
    found = tuple(t.label for t in terms if t.found_in(sentence))
    term_share = len(found) / len(terms) if terms else None
    term_words = {_canon(w) for t in terms for w in re.findall(r"[a-z0-9]+", t.label.lower())}
    relation_words = [c for c in p_content if c not in term_words and not c.isdigit()]
    covered = [c for c in p_content if c in s_canons]
    coverage = len(covered) / len(p_content) if p_content else 0.0
    relation = (
        sum(c in s_canons for c in relation_words) / len(relation_words) if relation_words else 0.0
    )
    negation, neg_reason = _negation_conflict(p_tokens, s_tokens)
    direction, dir_reason = _direction_conflict(p_tokens, s_tokens)
    swap, swap_reason = swap_conflict(point, sentence, contrast, rubric)
    if swap > direction:
        direction, dir_reason = swap, swap_reason
    if not direction:
        direction, dir_reason = _ordered_of_other(point, sentence, contrast)
    number, number_share, num_reason = _number_conflict(point, sentence)
    about = coverage >= 0.2 or bool(found) or (number > 0 and bool(covered))
    reasons: list[str] = []
    conflict = max(negation, direction, number) if about else 0.0
    for value, reason in ((negation, neg_reason), (direction, dir_reason), (number, num_reason)):
        if value and about:
            reasons.append(reason)
    substance = max(coverage, relation)
    if conflict >= 0.5:
        verdict: ClaimVerdict = "contradicts"
        confidence = min(0.95, 0.5 + 0.4 * conflict * min(1.0, coverage * 2 + 0.2))
    elif substance >= 0.5 and (term_share is None or term_share >= 0.5):
        verdict = "supports"
        confidence = min(0.9, 0.4 + 0.5 * substance)
        reasons.append(f"states {len(covered)} of the point's {len(p_content)} content words")
    elif about:
        verdict = "mentions"
        confidence = 0.6
        if found and relation < 0.3:
            reasons.append(
                "names " + ", ".join(found[:3]) + " without the relation the point states"
            )
        else:
            reasons.append("shares some of the point's words, not its claim")
    else:
        verdict = "unrelated"
        confidence = 0.7
        reasons.append("shares none of the point's content")
    return ClaimCheck(
        verdict=verdict,
        confidence=round(confidence, 3),
        reasons=tuple(reasons),
        coverage=round(coverage, 4),
        terms=None if term_share is None else round(term_share, 4),
        relation=round(relation, 4),
        negation_conflict=negation if about else 0.0,
        direction_conflict=direction if about else 0.0,
        number_conflict=number if about else 0.0,
        numbers=number_share,
        term_labels_found=found,
    )


def word_coverage(point: str, sentence: str) -> float:
    """Return the share of the point's content words the sentence states (as `check_claim`)."""
    wanted = {c for c in _content(_tokens(point)) if not _NUMERIC.fullmatch(c)}
    if not wanted:
        return 0.0
    said = {t.canon for t in _tokens(sentence)}
    return len(wanted & said) / len(wanted)


def on_point(point: str, sentence: str) -> float:
    """Return the share of a sentence's content words that the point also states.

    A short sentence that says one true thing of the point ("decode is slower") is all on the
    point even though it states little of it; a sentence about something else is not.
    """
    said = {t.canon for t in _tokens(sentence) if not _NUMERIC.fullmatch(t.canon)}
    if not said:
        return 0.0
    wanted = {t.canon for t in _tokens(point)} | {t.canon for t in _tokens(gloss(point))}
    return len(said & wanted) / len(said)


@dataclass(frozen=True)
class Support:
    """The sentence of an answer that best supports a point, and the check on it."""

    index: int
    sentence: str
    check: ClaimCheck
    score: float


def best_support(
    point: str,
    sentences: Sequence[str],
    similarities: Sequence[float] | None = None,
    *,
    contrast: Sequence[str] = (),
    rubric: Sequence[str] = (),
) -> Support | None:
    """Return the answer sentence that best supports a point (None for no sentences).

    Sentences are ranked by similarity when given (else by the claim check's coverage), and a
    sentence that contradicts the point ranks below every one that does not.
    """
    best: Support | None = None
    for index, sentence in enumerate(sentences):
        check = check_claim(point, sentence, contrast=contrast, rubric=rubric)
        base = similarities[index] if similarities is not None else 0.0
        score = base + 0.5 * max(check.coverage, check.relation) + 0.25 * (check.terms or 0.0)
        if check.verdict == "contradicts":
            score -= 2.0
        elif check.verdict == "unrelated":
            score -= 0.5
        candidate = Support(index, sentence, check, round(score, 4))
        if best is None or candidate.score > best.score:
            best = candidate
    return best


# ------------------------------------------------------------------ glosses for the encoder

# The sentence encoder reads "Q", "N(0,1)" or "TP=2" as opaque tokens, so an answer that says
# "query", "standard normal" or "tensor parallel over two GPUs" looks unrelated. A glossed copy
# of the point spells each abbreviation out beside it; the grader compares answers with both.
_GLOSSES: tuple[tuple[str, str], ...] = (
    (r"\bQ, K\b", "Q, K (query and key vectors)"),
    (r"\biid\b", "independent random"),
    (r"\bQ/K/V\b", "Q/K/V (query, key and value)"),
    (r"N\(0, ?1\)", "N(0,1) (standard normal: zero mean, unit variance)"),
    (r"√d\b|sqrt\(d(?:_k)?\)", "the square root of the dimension d"),
    (r"\bd_model\b", "d_model (the model dimension, hidden size)"),
    (r"\bd_head\b|\bhead_dim\b", "head dimension"),
    (r"\bd_k\b", "d_k (key dimension)"),
    (r"\bn_layers\b", "number of layers"),
    (r"\bn_kv_heads\b", "number of KV heads"),
    (r"\bn_tokens\b|\bseq_len\b", "number of tokens"),
    (r"\bbytes_per_element\b", "bytes per element"),
    (r"\bTP\b", "TP (tensor parallelism)"),
    (r"\bPP\b", "PP (pipeline parallelism)"),
    (r"\bFSDP\b", "FSDP (fully sharded data parallel)"),
    (r"\bKV\b", "KV (key-value)"),
    (r"\bHBM\b", "HBM (GPU memory)"),
    (r"\bQPS\b", "QPS (requests per second)"),
    (r"\bp99\b", "p99 (99th percentile latency)"),
    (r"\bTTFT\b", "TTFT (time to first token)"),
    (r"\bTBT\b", "TBT (time between tokens, decode speed)"),
    (r"\bSLO\b", "SLO (service level objective)"),
    (r"\bSLI\b", "SLI (service level indicator)"),
    (r"\bSFT\b", "SFT (supervised fine-tuning)"),
    (r"\bRM\b", "RM (reward model)"),
    (r"\bPPO\b", "PPO (reinforcement learning)"),
    (r"\bKL\b", "KL (divergence penalty)"),
    (r"\bOOM\b", "OOM (out of memory)"),
    (r"\bLoRA\b", "LoRA (low-rank adapters)"),
    (r"\bBF16\b", "BF16 (16-bit)"),
    (r"\bFP32\b", "FP32 (32-bit float)"),
    (r"\bRRF\b", "RRF (reciprocal rank fusion)"),
    (r"\bBM25\b", "BM25 (keyword search)"),
    (r"\bIVF\b", "IVF (inverted file index)"),
    (r"\bPSI\b", "PSI (population stability index)"),
    (r"\bKS\b", "KS (Kolmogorov-Smirnov)"),
    (r"\bDVC\b", "DVC (data version control)"),
    (r"\bJWT\b", "JWT (token)"),
    (r"\bTTL\b", "TTL (expiry)"),
    (r"\bCOW\b", "COW (copy on write)"),
    (r"\bEOS\b", "EOS (end of sequence)"),
    (r"\bDFA\b", "DFA (finite state automaton)"),
    (r"\bCDF\b", "CDF (cumulative distribution)"),
    (r"\bECE\b", "ECE (calibration error)"),
    (r"\bNLL\b", "NLL (negative log-likelihood)"),
    (r"\bPD\b", "PD (prefill-decode)"),
    (r"\bCI\b", "CI (continuous integration)"),
    (r"\bO\(1\)", "O(1) (constant time)"),
    (r"\bO\(n\)", "O(n) (linear time)"),
    (r"\bO\(log n\)", "O(log n) (logarithmic time)"),
    (r"\bO\(n\^?2\)|\bO\(n²\)", "O(n²) (quadratic time)"),
    (r"→", " leads to "),
    (r"≥", " at least "),
    (r"≤", " at most "),
    (r"≈|~", " about "),
)
_GLOSS_PATTERNS = tuple((re.compile(p), r) for p, r in _GLOSSES)


@lru_cache(maxsize=4096)
def gloss(point: str) -> str:
    """Return the point with its abbreviations and symbols spelt out for the sentence encoder."""
    text = point
    for pattern, replacement in _GLOSS_PATTERNS:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())
