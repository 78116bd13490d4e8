"""The drill board rule: best run per member, ranked by time, ties within the measured noise."""

from __future__ import annotations

from bot.domain.drill_boards import (
    BoardRun,
    improves_on,
    rank_board,
    takes_first_place,
    within_noise,
)
from bot.domain.scoring import drill_awards


def run(sid: int, member: int, time_s: float, noise_s: float = 0.0) -> BoardRun:
    return BoardRun(sid, member, f"m{member}", time_s, noise_s)


def test_each_member_counts_once_with_their_fastest_run() -> None:
    rows = rank_board([run(1, 1, 3.0), run(2, 1, 1.0), run(3, 2, 2.0), run(4, 1, 1.0)])
    assert [(r.rank, r.run.submission_id) for r in rows] == [(1, 2), (2, 3)]


def test_runs_within_the_noise_of_their_difference_share_a_rank() -> None:
    rows = rank_board([run(1, 1, 1.00, 0.02), run(2, 2, 1.04, 0.02), run(3, 3, 1.20, 0.02)])
    assert [(r.rank, r.tied) for r in rows] == [(1, True), (1, True), (3, False)]


def test_noiseless_runs_tie_only_when_equal() -> None:
    rows = rank_board([run(1, 1, 1.0), run(2, 2, 1.0), run(3, 3, 1.0000001)])
    assert [r.rank for r in rows] == [1, 1, 3]


def test_a_chain_of_small_steps_does_not_tie_the_last_with_the_first() -> None:
    # Each is within the noise of its neighbour, but the third is not within that of the first.
    rows = rank_board([run(1, 1, 1.00, 0.01), run(2, 2, 1.02, 0.01), run(3, 3, 1.04, 0.01)])
    assert [r.rank for r in rows] == [1, 1, 3]
    assert within_noise(rows[1].run, rows[2].run)


def test_first_place_is_new_only_when_held_alone_and_not_held_before() -> None:
    before = rank_board([run(1, 1, 1.0, 0.01)])
    clear = rank_board([run(1, 1, 1.0, 0.01), run(2, 2, 0.5, 0.01)])
    tie = rank_board([run(1, 1, 1.0, 0.01), run(2, 2, 0.99, 0.01)])
    assert takes_first_place(before, clear, 2)
    assert not takes_first_place(before, tie, 2)
    assert not takes_first_place(clear, rank_board([run(1, 1, 1.0), run(3, 2, 0.4)]), 2)
    assert takes_first_place([], before, 1)


def test_a_personal_best_must_beat_the_previous_beyond_the_noise() -> None:
    previous = run(1, 1, 1.0, 0.01)
    assert improves_on(run(2, 1, 0.9, 0.01), previous)
    assert not improves_on(run(2, 1, 0.99, 0.01), previous)
    assert not improves_on(run(2, 1, 1.2, 0.01), previous)
    assert not improves_on(run(2, 1, 0.1), None)  # a first pass is not a "best"


def test_drill_awards_name_each_reason_once() -> None:
    assert drill_awards(first_pass=True, personal_best=False, first_place=True) == (
        ("passed", 15),
        ("first", 10),
    )
    assert drill_awards(first_pass=False, personal_best=False, first_place=False) == ()
