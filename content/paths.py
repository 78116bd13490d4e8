"""Where each kind of content lives inside a data directory."""

from __future__ import annotations

import re
from pathlib import Path

DEFAULT_DATA_DIR = Path(__file__).resolve().parent / "data"
BANK_DIR = "bank"
PLANS_DIR = "plans"
OVERRIDES_DIR = "days"
GUIDE_FILE = "guide.yaml"
# Rubric points written from the coding questions' solution sketches (hand-kept, never imported).
SKETCH_POINTS_FILE = "sketch_points.yaml"
APPENDIX_FILE = "appendix.yaml"
SECTION_FILE_RE = re.compile(r"^e(?P<number>[0-9]{2})\.yaml$")
DAY_FILE_RE = re.compile(r"^day(?P<day>[0-9]{3})\.yaml$")


def appendix_path(data_dir: Path) -> Path:
    """Return the file holding the bank's own prose."""
    return data_dir / BANK_DIR / APPENDIX_FILE


def section_path(data_dir: Path, section: int) -> Path:
    """Return the file holding bank section E.`section` and its questions."""
    return data_dir / BANK_DIR / f"e{section:02d}.yaml"


def plan_path(data_dir: Path, day: int) -> Path:
    """Return the file of the authored plan for `day`."""
    return data_dir / PLANS_DIR / f"day{day:03d}.yaml"


def override_path(data_dir: Path, day: int) -> Path:
    """Return the file an organiser drops in to replace the plan for `day`."""
    return data_dir / OVERRIDES_DIR / f"day{day:03d}.yaml"
