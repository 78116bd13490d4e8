"""One typed error contract: what a member may read is decided by type, never by class name."""

from __future__ import annotations

import logging

import pytest

from bot.errors import (
    InvalidInput,
    NotFound,
    StudyBotError,
    Unavailable,
    as_studybot_error,
    translated_errors,
    user_message_for,
)
from content.errors import ContentError
from gpu_runner.drills import UnknownDrillError
from graders import GraderError


def test_studybot_errors_show_their_message_and_hint() -> None:
    error = InvalidInput("Start date 'x' is not YYYY-MM-DD.", hint="e.g. 2026-12-01")
    assert isinstance(error, StudyBotError)
    assert user_message_for(error) == "Start date 'x' is not YYYY-MM-DD. e.g. 2026-12-01"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ContentError("There is no question 'E99-001'."), NotFound),
        (GraderError("The llm grader needs an LLM endpoint."), Unavailable),
        (UnknownDrillError("no drill 'softmaxx'"), NotFound),
    ],
)
def test_errors_of_the_packages_below_are_wrapped_by_type(
    error: Exception, kind: type[StudyBotError]
) -> None:
    wrapped = as_studybot_error(error)
    assert isinstance(wrapped, kind) and str(wrapped) == str(error)
    with pytest.raises(kind) as info, translated_errors():
        raise error
    assert info.value.__cause__ is error
    assert user_message_for(error) == str(error)


def test_a_class_that_only_shares_a_name_gets_the_apology(caplog: pytest.LogCaptureFixture) -> None:
    impostor = type("ContentError", (Exception,), {})("secret dsn=postgres://u:pw@db")
    with caplog.at_level(logging.ERROR, logger="studybot"):
        text = user_message_for(impostor, context="/answer")
    assert "pw@db" not in text and text.startswith("Sorry, something went wrong")
    assert "error id" in text and "unexpected error" in caplog.text


def test_unrelated_errors_pass_through_the_translation_unchanged() -> None:
    with pytest.raises(KeyError), translated_errors():
        raise KeyError("x")
