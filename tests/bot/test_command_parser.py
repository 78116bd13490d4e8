"""The typed command line is not a shell: prose is taken verbatim, options may be named."""

from __future__ import annotations

import pytest

from bot.commands import COMMANDS, parse_command_line, user_reference
from bot.errors import StudyBotError


@pytest.mark.parametrize(
    "answer",
    [
        "It's the chain rule applied backwards",
        'He said "use the Jacobian" and left',
        "C:\\models\\llama holds the weights; \\n is not a newline",
        "an odd ' apostrophe and a \" quote",
        "first line\nsecond line\n\n  indented third",
        "id=5 means the first token; text=hello is a literal",
    ],
)
def test_answer_text_is_kept_verbatim(answer: str) -> None:
    path, args = parse_command_line(f"/answer E1-003 {answer}")
    assert path == "answer"
    assert args == {"id": "E1-003", "text": answer}


def test_named_options_and_named_prose() -> None:
    assert parse_command_line('/answer id=E1-003 text=It\'s verbatim, "all" of it') == (
        "answer",
        {"id": "E1-003", "text": 'It\'s verbatim, "all" of it'},
    )
    path, args = parse_command_line(
        '/cohort setup timezone=Europe/Berlin post_time=09:30 name="Tuesday group"'
    )
    assert path == "cohort setup"
    assert args == {"timezone": "Europe/Berlin", "post_time": "09:30", "name": "Tuesday group"}


def test_rubric_edit_and_pause_reason_take_the_rest_of_the_line() -> None:
    assert parse_command_line("/rubric edit E1-003 names the chain rule; it's O(n)") == (
        "rubric edit",
        {"id": "E1-003", "points": "names the chain rule; it's O(n)"},
    )
    assert parse_command_line("/cohort pause we're on a 'break' until Monday")[1] == {
        "reason": "we're on a 'break' until Monday"
    }


def test_too_many_values_for_a_command_without_prose() -> None:
    with pytest.raises(StudyBotError) as info:
        parse_command_line("/question E1-001 E1-002")
    assert "Too many values for /question: E1-002" in str(info.value)


def test_group_and_unknown_commands_pass_to_the_dispatcher() -> None:
    assert parse_command_line("/cohort") == ("cohort", {})
    assert parse_command_line("/nope it's fine") == ("nope", {})
    with pytest.raises(StudyBotError):
        parse_command_line("/   ")


def test_every_prose_option_comes_after_the_word_options() -> None:
    # The verbatim rest of the line can only be prose: no word option may follow a prose one.
    for spec in COMMANDS.values():
        kinds = [o.type for o in spec.options]
        if "text" in kinds:
            assert set(kinds[kinds.index("text") :]) == {"text"}, spec.path


def test_several_prose_options_split_only_at_a_later_option_name() -> None:
    import bot.mock_commands  # noqa: F401  (registers /mock)

    path, args = parse_command_line(
        "/mock scorecard Requirements=great; Design=good flags=clear numbers comment=It's "
        "solid; flags=none were raised"
    )
    assert path == "mock scorecard"
    assert args == {
        "ratings": "Requirements=great; Design=good",
        "flags": "clear numbers",
        "comment": "It's solid; flags=none were raised",
    }


@pytest.mark.parametrize(
    ("typed", "user"),
    [("@bob", "bob"), ("<@U0BOB|bob>", "U0BOB"), ("<@!1234>", "1234"), ("bob", "bob")],
)
def test_user_references_from_each_face(typed: str, user: str) -> None:
    assert user_reference(typed) == user


def test_a_booked_mock_time_takes_its_kind_as_the_last_word() -> None:
    import bot.mock_commands  # noqa: F401  (registers /mock)

    path, args = parse_command_line("/mock book 2026-12-05 18:00 behavioral")
    assert (path, args) == ("mock book", {"when": "2026-12-05 18:00 behavioral"})
