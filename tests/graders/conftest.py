"""Fixtures for the grader tests: the scripted OpenAI-compatible server and shared graders."""

from __future__ import annotations

from pathlib import Path

import pytest

from graders.agreement import LabeledAnswer, load_labeled_set
from graders.offline import OfflineGrader
from tests.support.openai_server import openai_server, openai_server_factory  # noqa: F401

LABELED_SET = Path(__file__).resolve().parents[1] / "data" / "graded_answers.yaml"


@pytest.fixture(scope="session")
def labeled_set() -> list[LabeledAnswer]:
    """The hand-labeled answers."""
    return load_labeled_set(LABELED_SET)


@pytest.fixture(scope="session")
def offline_grader() -> OfflineGrader:
    """The offline grader with the process-wide sentence encoder."""
    return OfflineGrader()
