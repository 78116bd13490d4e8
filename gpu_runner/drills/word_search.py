"""Drill `word_search`: find a word along a path of adjacent board cells."""

from __future__ import annotations

import itertools
import random

from gpu_runner.calling import FunctionCall, Trace
from gpu_runner.drills.base import Case, Drill, function_template, python_rng

SIGNATURE = "def exist(board: list[list[str]], word: str) -> bool"
DOCSTRING = """\
Return True if `word` can be spelled along a path of cells in `board`.

Consecutive letters sit in horizontally or vertically adjacent cells (not
diagonal, no wrapping around the edges), and a cell is used at most once in
the path. board is a non-empty grid of single characters, at most 6 x 6;
1 <= len(word) <= 15. Backtracking with a visited mark (undone when a branch
fails) is the expected approach."""

ORTHOGONAL = ((0, 1), (1, 0), (0, -1), (-1, 0))
DIAGONAL = ((1, 1), (1, -1), (-1, 1), (-1, -1))


def exist(board: list[list[str]], word: str) -> bool:
    """Return whether `word` is spelled by a path of distinct, orthogonally adjacent cells."""
    rows, cols = len(board), len(board[0])
    used = [[False] * cols for _ in range(rows)]

    def walk(r: int, c: int, i: int) -> bool:
        if board[r][c] != word[i] or used[r][c]:
            return False
        if i == len(word) - 1:
            return True
        used[r][c] = True
        for dr, dc in ((0, 1), (1, 0), (0, -1), (-1, 0)):
            nr, nc = r + dr, c + dc
            if 0 <= nr < rows and 0 <= nc < cols and walk(nr, nc, i + 1):
                used[r][c] = False
                return True
        used[r][c] = False
        return False

    return any(walk(r, c, 0) for r in range(rows) for c in range(cols))


def search_variant(
    board: list[list[str]],
    word: str,
    *,
    reuse: bool = False,
    steps: tuple[tuple[int, int], ...] = ORTHOGONAL,
    wrap: bool = False,
    unmark: bool = True,
) -> bool:
    """Return what a search with the given flaw answers (to build cases that expose it)."""
    rows, cols = len(board), len(board[0])
    used = [[False] * cols for _ in range(rows)]

    def walk(r: int, c: int, i: int) -> bool:
        if board[r][c] != word[i] or (used[r][c] and not reuse):
            return False
        if i == len(word) - 1:
            return True
        used[r][c] = True
        for dr, dc in steps:
            nr, nc = r + dr, c + dc
            if wrap:
                nr, nc = nr % rows, nc % cols
            if 0 <= nr < rows and 0 <= nc < cols and walk(nr, nc, i + 1):
                return True
        if unmark:
            used[r][c] = False
        return False

    found = False
    for r in range(rows):
        for c in range(cols):
            if walk(r, c, 0):
                found = True
                break
        if found:
            break
    return found


def random_board(rng: random.Random, rows: int, cols: int, letters: str) -> list[list[str]]:
    """Return a rows x cols board of letters drawn from `letters`."""
    return [[rng.choice(letters) for _ in range(cols)] for _ in range(rows)]


def path_word(
    rng: random.Random, board: list[list[str]], length: int, *, revisit: bool = False
) -> str:
    """Return the letters along a random orthogonal walk (self-avoiding unless `revisit`)."""
    rows, cols = len(board), len(board[0])
    for _ in range(200):
        r, c = rng.randrange(rows), rng.randrange(cols)
        seen = {(r, c)}
        letters = [board[r][c]]
        while len(letters) < length:
            nxt = [
                (r + dr, c + dc)
                for dr, dc in ORTHOGONAL
                if 0 <= r + dr < rows
                and 0 <= c + dc < cols
                and (revisit or (r + dr, c + dc) not in seen)
            ]
            if not nxt:
                break
            r, c = rng.choice(nxt)
            seen.add((r, c))
            letters.append(board[r][c])
        if len(letters) == length:
            return "".join(letters)
    raise RuntimeError("board too small for the requested path")


def _all_orders_fail(board: list[list[str]], word: str) -> bool:
    return all(
        not search_variant(board, word, steps=tuple(order), unmark=False)
        for order in itertools.permutations(ORTHOGONAL)
    )


class WordSearchDrill(Drill):
    """Word search on a grid (backtracking)."""

    id = "word_search"
    title = "Word search (backtracking)"
    entry = "exist"
    signature = SIGNATURE
    docstring = DOCSTRING
    template = function_template("word_search", SIGNATURE, DOCSTRING, imports=())
    needs_torch = False
    upcast_reference = False
    reference_impl = staticmethod(exist)
    reference_imports = ()
    days = (121,)
    public_cases = (
        Case("present", {"kind": "present", "rows": 3, "cols": 4, "length": 5}),
        Case("absent", {"kind": "absent", "rows": 3, "cols": 4, "length": 4}),
    )
    secret_cases = (
        Case("reused_cell", {"kind": "reuse", "rows": 3, "cols": 3, "length": 5}),
        Case("diagonal_only", {"kind": "diagonal", "rows": 4, "cols": 4, "length": 4}),
        Case("across_the_edge", {"kind": "wrap", "rows": 4, "cols": 5, "length": 4}),
        Case("backtrack_needed", {"kind": "backtrack", "rows": 4, "cols": 4, "length": 8}),
        Case("single_cell", {"kind": "single"}),
        Case("long_path", {"kind": "present", "rows": 6, "cols": 6, "length": 15, "letters": "ab"}),
    )
    bench_cases = (
        Case("bench_dense_absent", {"kind": "dense_absent", "rows": 6, "cols": 6, "length": 12}),
    )

    def make_inputs(self, case: Case, seed: int, device: str = "cpu") -> FunctionCall:
        """Return a board and word built so the case's flaw changes the answer."""
        p = case.params
        rng = python_rng(self.id, case, seed)
        kind = str(p["kind"])
        if kind == "single":
            letter = rng.choice("xyz")
            word = letter if rng.random() < 0.5 else letter + letter
            return FunctionCall(([[letter]], word), {})
        if kind == "dense_absent":
            # Every cell matches the prefix, so a search without pruning explores a lot.
            rows, cols = int(p["rows"]), int(p["cols"])
            board = [["a"] * cols for _ in range(rows)]
            return FunctionCall((board, "a" * (int(p["length"]) - 1) + "b"), {})
        rows, cols, length = int(p["rows"]), int(p["cols"]), int(p["length"])
        letters = str(p.get("letters", "abcd"))
        for _ in range(20_000):
            board = random_board(rng, rows, cols, letters)
            if kind == "present":
                word = path_word(rng, board, length)
                return FunctionCall((board, word), {})
            word = "".join(rng.choice(letters) for _ in range(length))
            if kind == "reuse":
                word = path_word(rng, board, length, revisit=True)
            if exist(board, word):
                if kind == "backtrack" and _all_orders_fail(board, word):
                    return FunctionCall((board, word), {})
                continue
            if kind == "absent" and word[0] in {x for row in board for x in row}:
                return FunctionCall((board, word), {})
            if kind == "reuse" and search_variant(board, word, reuse=True):
                return FunctionCall((board, word), {})
            if kind == "diagonal" and search_variant(board, word, steps=ORTHOGONAL + DIAGONAL):
                return FunctionCall((board, word), {})
            if kind == "wrap" and search_variant(board, word, wrap=True):
                return FunctionCall((board, word), {})
        raise RuntimeError(f"could not build a {kind} word-search case")

    def compare(
        self,
        case: Case,
        got: object,
        expected: object,
        inputs: FunctionCall | Trace | None = None,
    ) -> str | None:
        """Compare the answer, showing the board and word when they differ."""
        if type(got) is bool and got == expected:
            return None
        shown = ""
        if isinstance(inputs, FunctionCall):
            board, word = inputs.args
            grid = " / ".join("".join(row) for row in board)
            shown = f" for word {word!r} on board {grid}"
        if type(got) is not bool:
            return f"exist returned {type(got).__name__} {got!r}{shown}; return a bool"
        return f"exist returned {got}, expected {expected}{shown}"


DRILL = WordSearchDrill()
