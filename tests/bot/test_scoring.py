"""The points rules: weights from the bank's tags, best attempt counts, one award per source."""

from __future__ import annotations

import pytest

from bot.domain.scoring import (
    Reason,
    answer_award,
    difficulty_of,
    difficulty_weight,
    drill_awards,
    mock_awards,
    points_for_score,
    reason_of,
    rescaled_answer_points,
)
from content import load_library


@pytest.mark.parametrize(("tag", "weight"), [("W", 1), ("M", 2), ("H", 3), ("S", 4), (None, 2)])
def test_a_full_score_is_worth_ten_times_the_difficulty_weight(
    tag: str | None, weight: int
) -> None:
    assert difficulty_weight(tag) == weight
    assert points_for_score(1.0, tag) == 10 * weight
    assert points_for_score(0.0, tag) == 0
    assert points_for_score(1.7, tag) == 10 * weight  # clamped
    assert points_for_score(0.34, tag) == 3 * weight  # tenths first, then the weight


def test_only_an_improvement_on_the_best_attempt_earns_the_difference() -> None:
    assert answer_award(0.5, None, "H") == 15
    assert answer_award(0.8, 0.5, "H") == 9  # 24 - 15
    assert answer_award(0.4, 0.8, "H") == 0  # a weaker retry earns nothing, never negative
    assert answer_award(0.8, 0.8, "H") == 0


def test_difficulty_comes_from_the_bank_tag_or_the_linked_bank_question() -> None:
    library = load_library()
    bank = library.find_question("E1-005")
    assert difficulty_of(bank) == bank.difficulty  # type: ignore[union-attr]
    day = library.find_question("D001-01")
    linked = getattr(day, "bank", None)
    assert linked is not None and difficulty_of(day) == linked.difficulty

    class Unlinked:
        bank = None

    assert difficulty_of(Unlinked()) is None and difficulty_weight(difficulty_of(Unlinked())) == 2


def test_a_mock_pays_each_role_and_the_scorecard_each_under_its_own_reason() -> None:
    awards = mock_awards(7, interviewer_id=1, candidate_id=2)
    assert [(m, a.reason, a.ref, a.points) for m, a in awards] == [
        (1, Reason.MOCK_INTERVIEWER, "mock:7:interviewer", 15),
        (1, Reason.SCORECARD_GIVEN, "mock:7:scorecard", 5),
        (2, Reason.MOCK_CANDIDATE, "mock:7:candidate", 20),
    ]
    assert {a.kind for _, a in awards} == {"mock"}
    assert [m for m, _ in mock_awards(7, interviewer_id=None, candidate_id=2)] == [2]


def test_drill_awards_and_every_source_ref_maps_to_one_reason() -> None:
    assert drill_awards(first_pass=True, personal_best=True, first_place=True) == (
        ("passed", 15),
        ("best", 5),
        ("first", 10),
    )
    assert drill_awards(first_pass=False, personal_best=False, first_place=False) == ()
    assert reason_of("answer", "answer:3") is Reason.ANSWER
    assert reason_of("correction", "review:3") is Reason.CORRECTION
    assert reason_of("mock", "mock:3:interviewer") is Reason.MOCK_INTERVIEWER
    assert reason_of("mock", "mock:3:candidate") is Reason.MOCK_CANDIDATE
    assert reason_of("mock", "mock:3:scorecard") is Reason.SCORECARD_GIVEN
    assert reason_of("drill", "drill:passed:9") is Reason.DRILL_PASSED
    assert reason_of("drill", "drill:best:9") is Reason.DRILL_BEST
    assert reason_of("drill", "drill:first:9") is Reason.DRILL_FIRST


@pytest.mark.parametrize("tag", ["W", "M", "H", "S", None])
def test_rescaling_an_old_event_gives_what_the_new_rule_pays(tag: str | None) -> None:
    for previous, score in [(None, 0.34), (0.34, 0.71), (0.71, 1.0), (None, 0.05)]:
        old = round(score * 10) - round((previous or 0.0) * 10)
        assert rescaled_answer_points(old, tag) == answer_award(score, previous, tag)
