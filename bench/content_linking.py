"""Print every link decision on the authored days, and how long import, load and linking take.

Run: .venv/bin/python bench/content_linking.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from content.importer import import_files
from content.library import clear_library_cache, load_library
from content.linking import COSINE_GATE, COVERAGE_GATE, QuestionLinker

SOURCES = Path(__file__).resolve().parents[1] / "content" / "sources"


def _timed(label: str, runs: int, action: object) -> None:
    assert callable(action)
    start = time.perf_counter()
    for _ in range(runs):
        action()
    elapsed = (time.perf_counter() - start) / runs
    print(f"{label:<44} {elapsed * 1000:8.1f} ms")


def main() -> None:
    """Print the figures."""
    library = load_library()
    linker = library.linker
    print(f"gates: cosine >= {COSINE_GATE}, coverage >= {COVERAGE_GATE}\n")
    print(f"{'id':<8} {'decision':<8} {'bank':<8} {'conf':>5} {'cos':>6} {'cov':>6}  text")
    linked = total = 0
    for plan in library.authored.values():
        for question in plan.questions:
            link = linker.link(question.text)
            total += 1
            linked += link.matched
            decision = "LINK" if link.matched else "none"
            print(
                f"{question.id:<8} {decision:<8} {link.candidate or '-':<8} {link.confidence:5.2f}"
                f" {link.cosine:6.3f} {link.coverage:6.3f}  {question.text[:70]}"
            )
    unlinked = total - linked
    print(f"\nlinked {linked} of {total} authored day questions ({unlinked} without a rubric)")
    self_hits = sum(linker.link(q.text).bank_id == q.id for q in library.questions.values())
    print(f"bank questions that link to themselves: {self_hits} of {len(library.questions)}\n")

    sources = sorted(SOURCES.glob("*.txt"))
    with tempfile.TemporaryDirectory() as tmp:
        _timed("import the five seed files", 3, lambda: import_files(sources, Path(tmp)))

    def load() -> None:
        clear_library_cache()
        load_library()

    _timed("load the library (cold)", 3, load)
    library = load_library()
    _timed("resolve all 133 days", 5, library.days)
    _timed("build the question linker", 3, lambda: QuestionLinker(library.questions.values()))
    _timed("link one free-text question", 50, lambda: linker.link("What does PagedAttention do?"))


if __name__ == "__main__":
    main()
