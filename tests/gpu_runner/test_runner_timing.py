"""Timing statistics and the measuring loop, on a clock the test controls."""

from __future__ import annotations

import gc

import pytest

from gpu_runner import timing


def test_summary_statistics_of_known_values() -> None:
    s = timing.summarise([[1.0, 2.0, 3.0], [4.0, 5.0]])
    assert s.runs == 5
    assert s.median == 3.0 and s.mean == 3.0
    assert s.best == 1.0 and s.worst == 5.0
    assert s.spread == pytest.approx((4.0 - 2.0) / 3.0)
    assert s.stderr == pytest.approx((2.5**0.5) / (5**0.5))
    assert s.process_medians == [2.0, 4.5]


def test_quantiles_interpolate() -> None:
    assert timing.quantile([0.0, 10.0], 0.25) == 2.5
    assert timing.quantile([7.0], 0.9) == 7.0
    with pytest.raises(ValueError):
        timing.quantile([], 0.5)


def test_a_paired_gap_within_the_noise_is_a_tie_and_beyond_it_is_not() -> None:
    unused = timing.summarise([[1.0]])
    steady_gap = timing.paired_speedup([[1.10, 1.11, 1.09, 1.10, 1.10]], unused, unused)
    assert steady_gap.speedup == pytest.approx(1.10)
    assert not steady_gap.tie and steady_gap.rounds == 5
    noisy_gap = timing.paired_speedup([[0.8, 1.4, 1.1, 0.9, 1.3]], unused, unused)
    assert noisy_gap.tie


def test_disagreeing_process_pairs_count_as_noise() -> None:
    # Each pair of processes is steady, but the pairs disagree by 12%: a 6% gap is no ranking.
    unused = timing.summarise([[1.0]])
    paired = timing.paired_speedup([[1.0, 1.0, 1.0], [1.12, 1.12, 1.12]], unused, unused)
    assert paired.speedup == pytest.approx(1.06)
    assert paired.noise == pytest.approx(0.12 / 1.06)
    assert paired.tie


def test_a_slower_submission_is_as_far_from_a_tie_as_a_faster_one() -> None:
    unused = timing.summarise([[1.0]])
    faster = timing.paired_speedup([[2.0, 2.0, 2.02, 1.98]], unused, unused)
    slower = timing.paired_speedup([[0.5, 0.5, 0.505, 0.495]], unused, unused)
    assert not faster.tie and not slower.tie


def test_few_rounds_fall_back_to_the_unpaired_noise() -> None:
    noisy = timing.summarise([[1.0, 1.3, 0.7, 1.1]])
    paired = timing.paired_speedup([[1.05]], noisy, noisy)
    assert paired.speedup == 1.0 and paired.tie


def test_relative_noise_includes_disagreeing_processes() -> None:
    drifting = timing.summarise([[1.0, 1.0, 1.0], [1.3, 1.3, 1.3]])
    assert timing.relative_noise(drifting) == pytest.approx(0.3 / 1.15)


def test_calls_per_block_reaches_the_minimum_block_time() -> None:
    assert timing.calls_per_block(2e-6, 1e-4) == 100
    assert timing.calls_per_block(3e-7, 1e-4) == 1000
    assert timing.calls_per_block(1e-3, 1e-4) == 1


def test_blocks_time_each_fresh_input_once_and_keep_the_outputs() -> None:
    ticks = iter(range(0, 10**9, 1000))
    calls: list[int] = []

    def fake_clock() -> int:
        return next(ticks)

    def call(x: int) -> int:
        calls.append(x)
        return x * x

    gc.enable()
    measured = timing.time_cpu_blocks(call, list(range(10)), 3, clock=fake_clock)
    assert calls == list(range(9))  # three whole blocks; the tenth input is left over
    assert measured.outputs[:9] == [x * x for x in range(9)] and measured.outputs[9] is None
    assert measured.block_s == [1e-6, 1e-6, 1e-6]
    assert measured.calls_per_block == 3
    assert gc.isenabled()


def test_a_budget_ends_the_blocks_early_but_not_before_the_minimum() -> None:
    ticks = iter(range(0, 10**12, 10**6))  # every clock reading is a millisecond later

    def fake_clock() -> int:
        return next(ticks)

    measured = timing.time_cpu_blocks(
        lambda x: x, list(range(100)), 2, budget_s=0.0035, min_blocks=2, clock=fake_clock
    )
    assert measured.block_s == [1e-3] * 4  # the fourth block passes 3.5 ms
    assert measured.stopped_by == "budget"
    short = timing.time_cpu_blocks(
        lambda x: x, list(range(100)), 2, budget_s=0.0, min_blocks=3, clock=fake_clock
    )
    assert len(short.block_s) == 3


def test_a_few_rounds_that_happen_to_agree_still_count_their_whole_range_as_noise() -> None:
    unused = timing.summarise([[1.0]])
    # Four rounds, three close together and one far off: the quartiles alone would call a
    # 10% gap a ranking; with so few rounds the far one widens the noise.
    few = timing.paired_speedup([[0.90, 0.91, 0.90, 1.02]], unused, unused)
    assert few.tie and few.noise >= (1.02 - 0.90) / few.speedup
