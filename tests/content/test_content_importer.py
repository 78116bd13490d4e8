"""The importer recognises formats by content and writes byte-identical YAML every time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from content.errors import ContentError
from content.importer import detect_format, import_files
from content.library import load_library
from content.paths import DEFAULT_DATA_DIR, OVERRIDES_DIR, SKETCH_POINTS_FILE
from tests.content.conftest import BANK_SOURCE, DAY_SOURCES, GUIDE_SOURCE, SOURCES

ALL_SOURCES = sorted(SOURCES.glob("*.txt"))


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and p.suffix != ".md"
        and OVERRIDES_DIR not in p.relative_to(root).parts
        # Hand-kept beside the imported data: an import neither writes nor removes it.
        and p.name != SKETCH_POINTS_FILE
    }


def test_formats_are_recognised_by_content_not_by_name(tmp_path: Path) -> None:
    # Give every source a misleading name: detection must not care.
    renamed = []
    for index, source in enumerate(ALL_SOURCES):
        target = tmp_path / f"notes-{index}.md"
        shutil.copy(source, target)
        renamed.append(target)
    kinds = [detect_format(p.read_text(encoding="utf-8")) for p in renamed]
    assert kinds == ["day_plan", "day_plan", "day_plan", "bank", "guide"]
    report = import_files(list(reversed(renamed)), tmp_path / "out")
    assert report.questions == 535 and report.day_questions == 57


def test_text_in_no_known_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="cannot tell what this file is"):
        detect_format("Just some notes.\nNothing else.\n")
    stray = tmp_path / "stray.txt"
    stray.write_text("Hello\n", encoding="utf-8")
    with pytest.raises(ContentError, match="stray.txt: cannot tell"):
        import_files([stray], tmp_path / "out")


def test_import_is_byte_identical_when_repeated(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    import_files(ALL_SOURCES, first)
    import_files(list(reversed(ALL_SOURCES)), second)
    import_files(ALL_SOURCES, second)
    assert _tree(first) == _tree(second)
    assert len(_tree(first)) == 1 + 13 + 1 + 3


def test_shipped_data_is_exactly_what_the_sources_import_to(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    import_files(ALL_SOURCES, fresh)
    assert _tree(fresh) == _tree(DEFAULT_DATA_DIR), (
        "content/data differs from a fresh import of content/sources: run "
        "`studybot content import content/sources/*.txt`"
    )


def test_import_writes_the_expected_counts(tmp_path: Path) -> None:
    out = tmp_path / "out"
    report = import_files(ALL_SOURCES, out)
    assert report.questions == 535
    assert report.rubric_points == 997
    assert report.day_questions == 19 + 18 + 20
    library = load_library(out)
    assert len(library.questions) == 535
    assert sorted(library.authored) == [97, 98, 121]
    assert len(library.guide.trap_questions) == 5


def test_a_day_plan_imported_alone_is_linked_against_the_bank_already_there(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out"
    import_files([BANK_SOURCE, GUIDE_SOURCE], out)
    report = import_files([DAY_SOURCES[97]], out)
    assert report.day_questions == 20
    plan = load_library(out).authored[97]
    assert plan.question("D097-16") is not None
    assert plan.question("D097-16").bank_id == "E3-084"
    assert all(q.match_method in ("lexical", "none") for q in plan.questions)


def test_two_plans_for_one_day_are_refused(tmp_path: Path) -> None:
    copy = tmp_path / "again.txt"
    shutil.copy(DAY_SOURCES[98], copy)
    with pytest.raises(ContentError, match="day 98 is also in"):
        import_files([DAY_SOURCES[98], copy], tmp_path / "out")


def test_a_reimported_smaller_bank_drops_stale_section_files(tmp_path: Path) -> None:
    out = tmp_path / "out"
    import_files([BANK_SOURCE], out)
    small = tmp_path / "small.txt"
    small.write_text(
        "E.1 Basics (Chapters 1–2)\n\n"
        + "".join(f"{n}. [W][MLE] Question {n}? Chapter 1 · testing: it\n\n" for n in range(1, 7)),
        encoding="utf-8",
    )
    import_files([small], out)
    assert sorted(p.name for p in (out / "bank").glob("*.yaml")) == ["appendix.yaml", "e01.yaml"]
