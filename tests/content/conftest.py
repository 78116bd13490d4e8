"""Fixtures for the content tests: the shipped seed sources, parsed once, and data copies."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from content.library import Library, clear_library_cache, load_library
from content.parsing.bank import ParsedBank, parse_bank
from content.parsing.dayplan import parse_day_plan
from content.parsing.guide import parse_guide
from content.paths import DEFAULT_DATA_DIR
from content.schema import DayPlan, InterviewGuide

SOURCES = Path(__file__).resolve().parents[2] / "content" / "sources"
BANK_SOURCE = SOURCES / "003_4d8460069ea9ea70.txt"
GUIDE_SOURCE = SOURCES / "004_82916de0e6e66faf.txt"
DAY_SOURCES = {
    121: SOURCES / "000_f4b4279ba8c0b80d.txt",
    98: SOURCES / "001_7bb0f8b147146db4.txt",
    97: SOURCES / "002_e13e4365571a019d.txt",
}


@pytest.fixture(scope="session")
def bank_text() -> str:
    """The raw question bank text."""
    return BANK_SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def parsed_bank(bank_text: str) -> ParsedBank:
    """The question bank, parsed once for the session."""
    return parse_bank(bank_text)


@pytest.fixture(scope="session")
def guide_text() -> str:
    """The raw interview guide text."""
    return GUIDE_SOURCE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def parsed_guide(guide_text: str) -> InterviewGuide:
    """The interview guide, parsed once for the session."""
    return parse_guide(guide_text)


@pytest.fixture(scope="session")
def parsed_days() -> dict[int, DayPlan]:
    """The three authored day plans, parsed (not linked)."""
    return {
        day: parse_day_plan(path.read_text(encoding="utf-8")) for day, path in DAY_SOURCES.items()
    }


@pytest.fixture(scope="session")
def library() -> Library:
    """The shipped library."""
    return load_library()


@pytest.fixture
def data_copy(tmp_path: Path) -> Iterator[Path]:
    """A private copy of the shipped content/data that a test may break or extend."""
    target = tmp_path / "data"
    shutil.copytree(DEFAULT_DATA_DIR, target)
    yield target
    clear_library_cache()


@pytest.fixture(autouse=True)
def _fresh_library_cache() -> Iterator[None]:
    """Drop libraries loaded from temporary directories after each test."""
    yield
    clear_library_cache()
