"""Drill `interleaving_string`: is s3 an interleaving of s1 and s2."""

from __future__ import annotations

import random

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, python_rng

SIGNATURE = "def is_interleave(s1: str, s2: str, s3: str) -> bool"
DOCSTRING = """\
Return True if s3 is an interleaving of s1 and s2.

s3 must hold all characters of both, each string's characters in their own
order, and nothing else.

Strings are up to 200 characters long and may be empty; they often share
characters, so taking from s1 whenever it matches (greedy) is wrong. Aim for
O(len(s1) * len(s2)) time (2-D dynamic programming)."""


def is_interleave(s1: str, s2: str, s3: str) -> bool:
    """Return whether s3 interleaves s1 and s2 (one-row DP over prefixes)."""
    n, m = len(s1), len(s2)
    if n + m != len(s3):
        return False
    row = [False] * (m + 1)
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 and j == 0:
                row[j] = True
                continue
            from_s1 = i > 0 and row[j] and s1[i - 1] == s3[i + j - 1]
            from_s2 = j > 0 and row[j - 1] and s2[j - 1] == s3[i + j - 1]
            row[j] = from_s1 or from_s2
    return row[m]


def greedy(s1: str, s2: str, s3: str, prefer_first: bool) -> bool:
    """Return what a greedy matcher answers (to build cases that defeat it)."""
    i = j = 0
    for ch in s3:
        take_1 = i < len(s1) and s1[i] == ch
        take_2 = j < len(s2) and s2[j] == ch
        if take_1 and (prefer_first or not take_2):
            i += 1
        elif take_2:
            j += 1
        else:
            return False
    return i == len(s1) and j == len(s2)


def shuffle_in(rng: random.Random, s1: str, s2: str) -> str:
    """Return a random interleaving of s1 and s2."""
    picks = [0] * len(s1) + [1] * len(s2)
    rng.shuffle(picks)
    it1, it2 = iter(s1), iter(s2)
    return "".join(next(it1) if pick == 0 else next(it2) for pick in picks)


class InterleavingDrill(Drill):
    """Interleaving string (2-D DP)."""

    id = "interleaving_string"
    title = "Interleaving string (2-D DP)"
    entry = "is_interleave"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("interleaving_string", SIGNATURE, DOCSTRING, imports=())
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(is_interleave)
    reference_imports = ()
    days = (97,)
    public_cases = (
        Case("interleaved", {"kind": "true", "n1": 5, "n2": 5, "letters": "abc"}),
        Case("not_interleaved", {"kind": "false", "n1": 5, "n2": 5, "letters": "abc"}),
    )
    secret_cases = (
        Case("greedy_trap", {"kind": "greedy_trap", "n1": 8, "n2": 8, "letters": "ab"}),
        Case("greedy_trap_long", {"kind": "greedy_trap", "n1": 30, "n2": 25, "letters": "ab"}),
        Case("extra_character", {"kind": "longer", "n1": 6, "n2": 4, "letters": "ab"}),
        Case("missing_character", {"kind": "shorter", "n1": 6, "n2": 7, "letters": "ab"}),
        Case("empty_side", {"kind": "empty", "n1": 0, "n2": 9, "letters": "abc"}),
        Case("long_shared_letters", {"kind": "true", "n1": 200, "n2": 200, "letters": "ab"}),
    )
    bench_cases = (
        Case("bench_200x200_false", {"kind": "false", "n1": 200, "n2": 200, "letters": "ab"}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return s1, s2, s3 built so the case's flaw changes the answer."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        kind, letters = str(p["kind"]), str(p["letters"])
        n1, n2 = int(p["n1"]), int(p["n2"])

        def word(n: int) -> str:
            return "".join(rng.choice(letters) for _ in range(n))

        for _ in range(50_000):
            s1, s2 = word(n1), word(n2)
            s3 = shuffle_in(rng, s1, s2)
            if kind in ("true", "empty"):
                return FunctionCall((s1, s2, s3), {})
            if kind == "greedy_trap":
                if not greedy(s1, s2, s3, True) and not greedy(s1, s2, s3, False):
                    return FunctionCall((s1, s2, s3), {})
            elif kind == "false":
                # Swap two different neighbouring characters: a near miss.
                k = rng.randrange(len(s3) - 1)
                if s3[k] != s3[k + 1]:
                    s3 = s3[:k] + s3[k + 1] + s3[k] + s3[k + 2 :]
                    if not is_interleave(s1, s2, s3):
                        return FunctionCall((s1, s2, s3), {})
            elif kind == "longer":
                return FunctionCall((s1, s2, s3 + rng.choice(letters)), {})
            elif kind == "shorter":
                return FunctionCall((s1, s2, s3[:-1]), {})
        raise RuntimeError(f"could not build a {kind} interleaving case")

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Compare the answer, showing the strings when they differ."""
        if type(got) is bool and got == expected:
            return None
        shown = ""
        if isinstance(inputs, FunctionCall):
            s1, s2, s3 = inputs.args
            shown = f" for s1={s1!r}, s2={s2!r}, s3={s3!r}"
        if type(got) is not bool:
            return f"is_interleave returned {type(got).__name__} {got!r}{shown}; return a bool"
        return f"is_interleave returned {got}, expected {expected}{shown}"


DRILL = InterleavingDrill()
