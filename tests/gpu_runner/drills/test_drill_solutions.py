"""Every drill against known solutions: correct ones pass, each usual mistake fails clearly.

The solutions live in `solutions/<drill id>/`: `ok_*.py` are correct (often written quite
differently from the reference, in float32, using every freedom the drill's contract leaves),
`wrong_*.py` each carry one classic mistake and a `# expect: <regex>` line the failure message
must match, and `rejected_*.py` get the right answer from a library call that does the exercise
(rejected, naming the call, though their output is within tolerance).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gpu_runner.drills import DRILLS, check_in_process

SOLUTIONS = Path(__file__).parent / "solutions"
EXPECT = re.compile(r"^# expect: (.+)$", re.MULTILINE)


def _solutions(prefix: str) -> list[tuple[str, Path]]:
    return [
        (folder.name, path)
        for folder in sorted(SOLUTIONS.iterdir())
        if folder.is_dir()
        for path in sorted(folder.glob(f"{prefix}_*.py"))
    ]


def _id(item: tuple[str, Path]) -> str:
    return f"{item[0]}/{item[1].stem}"


@pytest.mark.parametrize("item", _solutions("ok"), ids=_id)
def test_correct_solution_passes_every_case(item: tuple[str, Path]) -> None:
    drill_id, path = item
    message = check_in_process(DRILLS[drill_id], path.read_text(), seeds=(0, 1, 2))
    assert message is None, message


@pytest.mark.parametrize("item", _solutions("wrong"), ids=_id)
def test_wrong_solution_fails_with_a_helpful_message(item: tuple[str, Path]) -> None:
    drill_id, path = item
    source = path.read_text()
    expect = EXPECT.search(source)
    assert expect, f"{path.name} has no '# expect:' line"
    message = check_in_process(DRILLS[drill_id], source, seeds=(0, 1))
    assert message is not None, f"{path.name} passed every case"
    assert re.search(expect.group(1), message), message
    assert message.startswith("case "), "a failure must name the case it comes from"
    assert "Traceback" not in message


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_every_drill_has_correct_and_wrong_solutions(drill_id: str) -> None:
    folder = SOLUTIONS / drill_id
    assert len(list(folder.glob("ok_*.py"))) >= 1
    assert len(list(folder.glob("wrong_*.py"))) >= 3


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_reference_source_passes_as_a_submission(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    assert check_in_process(drill, drill.reference_source, seeds=(0, 1, 2)) is None


@pytest.mark.parametrize("drill_id", list(DRILLS))
def test_template_is_not_a_solution(drill_id: str) -> None:
    drill = DRILLS[drill_id]
    message = check_in_process(drill, drill.template)
    assert message is not None
    assert "NotImplementedError" in message


@pytest.mark.parametrize("item", _solutions("rejected"), ids=_id)
def test_a_library_call_that_does_the_exercise_is_rejected_by_name(
    item: tuple[str, Path],
) -> None:
    drill_id, path = item
    source = path.read_text()
    expect = EXPECT.search(source)
    assert expect, f"{path.name} has no '# expect:' line"
    message = check_in_process(DRILLS[drill_id], source, seeds=(0,))
    assert message is not None and message.startswith("rejected: submission.py line ")
    assert expect.group(1) in message
    # Its output is right: the rejection is for the call, not for the numbers.
    drill = DRILLS[drill_id]
    assert check_in_process(drill, source, seeds=(0, 1), allow_library_calls=True) is None


@pytest.mark.parametrize("drill_id", [d for d, drill in DRILLS.items() if drill.provided])
def test_a_file_that_keeps_the_templates_provided_code_passes_too(drill_id: str) -> None:
    """The judge appends its own copy of what the template provides; a member who kept the
    template whole and wrote below it is judged the same as one who left it out."""
    drill = DRILLS[drill_id]
    ok = sorted((SOLUTIONS / drill_id).glob("ok_*.py"))[0].read_text()
    assert check_in_process(drill, drill.template + "\n\n" + ok, seeds=(0,)) is None
